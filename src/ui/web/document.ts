import { type DocPage, get, type Metadata, post } from "./api.js";
import { h, preview } from "./dom.js";
import { errorBox, go, href, type Route, setFlash } from "./router.js";

interface ChunkLayout {
  chunk: number;
  start: number;
  length: number;
}

interface DeleteOutcome {
  deleted: number;
  ids?: string[];
}

export async function documentPage({ params }: Route): Promise<HTMLElement> {
  const collection = params.get("c") ?? "";
  const id = params.get("id") ?? "";
  const section = h("section", {}, h("h1", { tabindex: -1 }, "Document ", h("code", {}, id)));
  const page = await get<DocPage>("/documents", { collection, id });
  const doc = page.documents[0];
  if (!doc) {
    section.append(h("p", { class: "error", role: "alert" }, `No document "${id}" in "${collection}".`));
    return section;
  }
  const status = h("p", { id: "metadata-status", class: "notice", role: "status" });
  const editor = h("textarea", { id: "metadata", rows: 8, spellcheck: "false" });
  editor.value = JSON.stringify(doc.metadata, null, 2);
  let stored: Metadata = doc.metadata;

  async function save(event: Event): Promise<void> {
    event.preventDefault();
    status.replaceChildren();
    let edited: unknown;
    try {
      edited = JSON.parse(editor.value);
    } catch {
      status.replaceChildren(errorBox("The metadata is not JSON."));
      return;
    }
    if (typeof edited !== "object" || edited === null || Array.isArray(edited)) {
      status.replaceChildren(errorBox('Metadata is a JSON object, e.g. {"topic": "ops"}.'));
      return;
    }
    // update_documents merges: send what changed, and null for each key taken out.
    const changes: Record<string, unknown> = {};
    const next = edited as Record<string, unknown>;
    for (const [key, value] of Object.entries(next))
      if (JSON.stringify(value) !== JSON.stringify(stored[key])) changes[key] = value;
    for (const key of Object.keys(stored)) if (!Object.hasOwn(next, key)) changes[key] = null;
    if (Object.keys(changes).length === 0) {
      status.textContent = "Nothing changed.";
      return;
    }
    try {
      await post("/update", { collection, documents: [{ id, metadata: changes }] });
      const fresh = await get<DocPage>("/documents", { collection, id });
      stored = fresh.documents[0]?.metadata ?? {};
      editor.value = JSON.stringify(stored, null, 2);
      status.textContent = `Saved: ${Object.keys(changes).length} key(s) changed.`;
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  }

  const textEditor = h("textarea", { id: "doc-text-edit", rows: 10 });
  textEditor.value = doc.text;
  const textStatus = h("p", { id: "text-status", class: "notice", role: "status" });
  const chunkTable = h("div", { class: "chunks" });
  let text = doc.text;

  async function showChunks(): Promise<void> {
    try {
      const { chunks } = await get<{ chunks: ChunkLayout[] }>("/chunks", { collection, id });
      chunkTable.replaceChildren(
        h(
          "table",
          { class: "chunk-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["Chunk", "Starts at", "Characters", "Begins with"].map((t) => h("th", { scope: "col" }, t)),
            ),
          ),
          h(
            "tbody",
            {},
            ...chunks.map((c) =>
              h(
                "tr",
                {},
                h("td", { class: "num" }, c.chunk),
                h("td", { class: "num" }, c.start),
                h("td", { class: "num" }, c.length),
                h("td", { class: "text" }, preview(text.slice(c.start, c.start + c.length), 80)),
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      chunkTable.replaceChildren(errorBox(error));
    }
  }

  async function saveText(event: Event): Promise<void> {
    event.preventDefault();
    if (textEditor.value === text) {
      textStatus.textContent = "Nothing changed.";
      return;
    }
    textStatus.textContent = "Saving and re-embedding…";
    try {
      const done = await post<{ reembedded: number }>("/update", {
        collection,
        documents: [{ id, text: textEditor.value }],
      });
      const fresh = await get<DocPage>("/documents", { collection, id });
      const now = fresh.documents[0];
      text = now?.text ?? textEditor.value;
      textView.textContent = text;
      textEditor.value = text;
      chunkCount.textContent = ` · ${now?.chunks ?? "?"} chunk(s) · ${text.length} characters`;
      textStatus.textContent = `Saved: ${done.reembedded} document(s) re-embedded.`;
      await showChunks();
    } catch (error) {
      textStatus.replaceChildren(errorBox(error));
    }
  }

  const confirmBox = h("div", { class: "confirm" });
  async function askDelete(): Promise<void> {
    try {
      const dry = await post<DeleteOutcome>("/delete", { collection, ids: [id], dry_run: true });
      const yes = h(
        "button",
        { type: "button", class: "danger", onclick: () => void reallyDelete() },
        `Delete ${dry.deleted} document(s)`,
      );
      confirmBox.replaceChildren(
        h(
          "p",
          { role: "alert" },
          `Dry run: ${dry.deleted} document(s) would be deleted (${(dry.ids ?? []).join(", ")}).`,
        ),
        yes,
        h("button", { type: "button", onclick: () => confirmBox.replaceChildren() }, "Cancel"),
      );
      yes.focus();
    } catch (error) {
      confirmBox.replaceChildren(errorBox(error));
    }
  }
  async function reallyDelete(): Promise<void> {
    try {
      const done = await post<DeleteOutcome>("/delete", { collection, ids: [id] });
      setFlash(`Deleted ${done.deleted} document(s): ${id}.`);
      go("browse", { c: collection });
    } catch (error) {
      confirmBox.replaceChildren(errorBox(error));
    }
  }

  const textView = h("pre", { class: "doc-text" }, doc.text);
  const chunkCount = h("span", {}, ` · ${doc.chunks} chunk(s) · ${doc.text.length} characters`);
  void showChunks();
  section.append(
    h(
      "p",
      {},
      "In ",
      h("a", { href: href("browse", { c: collection }) }, collection),
      chunkCount,
      " · ",
      h("a", { href: href("search", { c: collection, like: id }) }, "Find similar"),
    ),
    h("h2", {}, "Text"),
    textView,
    h("h2", {}, "Chunks"),
    chunkTable,
    h(
      "form",
      { onsubmit: (event: Event) => void saveText(event) },
      h("label", { for: "doc-text-edit" }, "Edit the text (saving re-embeds it with the collection's model)"),
      textEditor,
      h("button", { type: "submit" }, "Save text"),
    ),
    textStatus,
    h("h2", {}, "Metadata"),
    h(
      "form",
      { onsubmit: (event: Event) => void save(event) },
      h(
        "label",
        { for: "metadata" },
        "Metadata as JSON (remove a key to delete it; a key keeps one type per collection)",
      ),
      editor,
      h("button", { type: "submit" }, "Save metadata"),
    ),
    status,
    h("h2", {}, "Delete"),
    h("button", { type: "button", class: "danger", onclick: () => void askDelete() }, "Delete…"),
    confirmBox,
  );
  return section;
}
