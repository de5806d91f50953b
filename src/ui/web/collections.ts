import { type Collection, get, post } from "./api.js";
import { field, formatBytes, h } from "./dom.js";
import { errorBox, go, href, setFlash, takeFlash } from "./router.js";

interface IndexState {
  present: boolean;
  indexedRows: number;
  unindexedRows: number;
}

interface Stats extends Collection {
  fragments: number;
  smallFragments: number;
  indexes: { vector: IndexState; text: IndexState };
}

/** "none", or the rows the index covers and those written since (searched without it). */
function indexCell(kind: string, index: IndexState): HTMLElement {
  const text = index.present
    ? `${index.indexedRows} indexed${index.unindexedRows > 0 ? `, ${index.unindexedRows} not yet` : ""}`
    : "none";
  const why =
    kind === "vector"
      ? "Built in the background for large collections; smaller ones are searched exactly."
      : "Made on the first keyword or hybrid search.";
  return h("td", { class: "num", "data-index": kind, title: why }, text);
}

export async function collectionsPage(): Promise<HTMLElement> {
  const { collections } = await get<{ collections: Stats[] }>("/collections");
  const dropBox = h("div", { class: "confirm" });
  const body =
    collections.length === 0
      ? h(
          "p",
          {},
          "No collections yet. Add documents with an MCP client, `vector-memory-mcp add`, or import a file below.",
        )
      : h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...[
                "Name",
                "Documents",
                "Chunks",
                "Model",
                "Precision",
                "Dimensions",
                "Size",
                "Fragments",
                "Vector index",
                "Text index",
                "",
              ].map((t) => h("th", { scope: "col" }, t)),
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
                h(
                  "td",
                  { class: "num", title: `${c.smallFragments} small: compaction merges them` },
                  c.fragments,
                ),
                indexCell("vector", c.indexes.vector),
                indexCell("text", c.indexes.text),
                h(
                  "td",
                  { class: "row-actions" },
                  h("a", { href: href("search", { c: c.name }) }, "Search"),
                  h("a", { href: href("map", { c: c.name }) }, "Map"),
                  h("a", { href: href("duplicates", { c: c.name }) }, "Duplicates"),
                  h(
                    "a",
                    {
                      href: `/api/export?collection=${encodeURIComponent(c.name)}`,
                      download: `${c.name}.jsonl`,
                    },
                    "Export",
                  ),
                  h(
                    "button",
                    { type: "button", class: "danger", onclick: () => askDrop(dropBox, c) },
                    `Drop ${c.name}…`,
                  ),
                ),
              ),
            ),
          ),
        );
  return h("section", {}, h("h1", { tabindex: -1 }, "Collections"), takeFlash(), body, dropBox, importForm());
}

/** Dropping asks for the collection's name typed again; the server checks it too. */
function askDrop(box: HTMLElement, c: Collection): void {
  const input = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
  const yes = h(
    "button",
    { type: "submit", class: "danger", disabled: true },
    `Drop ${c.name} and its ${c.count} document(s)`,
  );
  input.addEventListener("input", () => {
    yes.disabled = input.value !== c.name;
  });
  box.replaceChildren(
    h(
      "form",
      {
        onsubmit: (event: Event) => {
          event.preventDefault();
          post<{ deleted: number }>("/delete", {
            collection: c.name,
            drop_collection: true,
            confirm: input.value,
          })
            .then((done) => {
              setFlash(`Dropped "${c.name}" (${done.deleted} document(s)).`);
              go("collections", { t: String(Date.now()) });
            })
            .catch((error: unknown) => box.append(errorBox(error)));
        },
      },
      h(
        "p",
        { role: "alert" },
        `This deletes "${c.name}" and all ${c.count} of its documents. Type its name to confirm.`,
      ),
      field(`Name of the collection to drop`, input),
      yes,
      h("button", { type: "button", onclick: () => box.replaceChildren() }, "Cancel"),
    ),
  );
  input.focus();
}

/** Import a file in the format `export` writes (JSON Lines; its header's model makes a new collection). */
function importForm(): HTMLElement {
  const name = h("input", {
    type: "text",
    required: true,
    pattern: "[a-z0-9][a-z0-9_\\-]{0,63}",
    placeholder: "notes",
  });
  const file = h("input", {
    type: "file",
    accept: ".jsonl,.ndjson,application/x-ndjson,text/plain",
    required: true,
  });
  const status = h("p", { id: "import-status", class: "notice", role: "status" });
  return h(
    "form",
    {
      class: "filters import",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const chosen = file.files?.[0];
        if (!chosen) return;
        status.textContent = "Importing (embedding every document)…";
        chosen
          .text()
          .then((text) =>
            post<{ documents: number; added: number; replaced: number }>("/import", {
              collection: name.value,
              file: text,
            }),
          )
          .then((done) => {
            setFlash(
              `Imported ${done.documents} document(s) into "${name.value}": ${done.added} added, ${done.replaced} replaced.`,
            );
            go("collections", { t: String(Date.now()) });
          })
          .catch((error: unknown) => status.replaceChildren(errorBox(error)));
      },
    },
    h("h2", {}, "Import"),
    field("Into collection", name, "new or existing; a new one takes the file's model"),
    field("Collection file (JSON Lines, as export writes it)", file),
    h("button", { type: "submit" }, "Import"),
    status,
  );
}
