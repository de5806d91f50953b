import { type Collection, get } from "./api.js";
import { formatBytes, h } from "./dom.js";
import { href, takeFlash } from "./router.js";

export async function collectionsPage(): Promise<HTMLElement> {
  const { collections } = await get<{ collections: Collection[] }>("/collections");
  const body =
    collections.length === 0
      ? h("p", {}, "No collections yet. Add documents with an MCP client or `vector-memory-mcp add`.")
      : h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["Name", "Documents", "Chunks", "Model", "Precision", "Dimensions", "Size", ""].map((t) =>
                h("th", { scope: "col" }, t),
              ),
            ),
          ),
          h(
            "tbody",
            {},
            ...collections.map((c) =>
              h(
                "tr",
                { "data-collection": c.name },
                h("th", { scope: "row" }, h("a", { href: href("browse", { c: c.name }) }, c.name)),
                h("td", { class: "num" }, c.count),
                h("td", { class: "num" }, c.chunks),
                h("td", {}, c.model),
                h("td", {}, c.dtype),
                h("td", { class: "num" }, c.dimensions),
                h("td", { class: "num" }, formatBytes(c.bytes)),
                h("td", {}, h("a", { href: href("search", { c: c.name }) }, "Search")),
              ),
            ),
          ),
        );
  return h("section", {}, h("h1", { tabindex: -1 }, "Collections"), takeFlash(), body);
}
