import { get, type Metadata, post } from "./api.js";
import { deleteIds } from "./bulk.js";
import { field, h } from "./dom.js";
import { errorBox, go, href, type Route } from "./router.js";
import { collectionSelect } from "./select.js";

interface Side {
  id: string;
  text: string;
  metadata: Metadata;
}
interface Pair {
  score: number;
  a: Side;
  b: Side;
}
interface DuplicatePage {
  pairs: Pair[];
  checked: number;
  total: number;
  nextCursor: string | null;
}

/**
 * The Duplicates page: pairs of documents whose closest chunks are at least `min` alike (cosine),
 * side by side. Keep one and delete the other, merge (keep one, take over the other's metadata as
 * the merge route's rule says, delete the other), or leave both.
 */
export async function duplicatesPage({ params }: Route): Promise<HTMLElement> {
  const collection = params.get("c") ?? "";
  const min = params.get("min") ?? "0.95";
  const cursor = params.get("cursor") ?? undefined;
  const select = await collectionSelect(collection);
  const minInput = h("input", { type: "number", min: -1, max: 1, step: "any", value: min });
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (event: Event) => {
        event.preventDefault();
        go("duplicates", { c: select.value, min: minInput.value });
      },
    },
    field("Collection", select),
    field("Minimum similarity", minInput, "cosine of the closest chunks, e.g. 0.95"),
    h("button", { type: "submit" }, "Find pairs"),
  );
  const section = h(
    "section",
    {},
    h("h1", { tabindex: -1 }, "Duplicates"),
    form,
    h(
      "p",
      { class: "hint" },
      "Merge keeps one document's text and metadata, adds the keys only the other has and unites lists of strings, then deletes the other.",
    ),
  );
  const name = collection || select.value;
  if (!name) return section;
  try {
    const found = await get<DuplicatePage>("/duplicates", { collection: name, min, cursor });
    section.append(
      h(
        "p",
        { class: "summary", role: "status" },
        `${found.pairs.length} pair(s) at or above ${min}; checked ${found.checked} of ${found.total} document(s).`,
      ),
      h("ol", { class: "pairs" }, ...found.pairs.map((pair) => pairItem(name, pair))),
      ...(found.nextCursor
        ? [
            h(
              "a",
              { href: href("duplicates", { c: name, min, cursor: found.nextCursor }), rel: "next" },
              "Check further",
            ),
          ]
        : []),
    );
  } catch (error) {
    section.append(errorBox(error));
  }
  return section;
}

function pairItem(collection: string, pair: Pair): HTMLElement {
  const status = h("p", { class: "notice", role: "status" });
  const item = h("li", { class: "pair", "data-pair": `${pair.a.id} ${pair.b.id}` });
  const act = (label: string, run: () => Promise<string>, danger = false) =>
    h(
      "button",
      {
        type: "button",
        class: danger ? "danger" : undefined,
        onclick: () =>
          void run()
            .then((message) => {
              for (const b of item.querySelectorAll("button")) b.disabled = true;
              status.textContent = message;
            })
            .catch((error: unknown) => status.replaceChildren(errorBox(error))),
      },
      label,
    );
  const merge = async (keep: Side, drop: Side) => {
    const done = await post<{ kept: string; deleted: number; addedKeys: string[] }>("/merge", {
      collection,
      keep: keep.id,
      drop: drop.id,
    });
    const keys = done.addedKeys.length > 0 ? ` (metadata taken over: ${done.addedKeys.join(", ")})` : "";
    return `Merged ${drop.id} into ${done.kept}${keys}; ${drop.id} deleted.`;
  };
  const side = (doc: Side, other: Side, label: string) =>
    h(
      "div",
      { class: "side" },
      h("h3", {}, h("a", { href: href("doc", { c: collection, id: doc.id }) }, doc.id)),
      h("p", { class: "snippet" }, doc.text),
      h("code", { class: "meta" }, JSON.stringify(doc.metadata)),
      h(
        "div",
        { class: "actions" },
        act(
          `Keep ${label}, delete the other`,
          async () => `Deleted ${await deleteIds(collection, [other.id])}: ${other.id}.`,
          true,
        ),
        act(`Merge into ${label}`, () => merge(doc, other)),
      ),
    );
  item.append(
    h("div", { class: "pair-head" }, `similarity ${pair.score.toFixed(3)}`),
    h("div", { class: "sides" }, side(pair.a, pair.b, "left"), side(pair.b, pair.a, "right")),
    act("Keep both", async () => "Left as they are."),
    status,
  );
  return item;
}
