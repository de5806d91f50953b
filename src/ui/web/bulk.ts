import { type Metadata, post } from "./api.js";
import { h } from "./dom.js";
import { errorBox } from "./router.js";

/** Ids per request: the contract's ids-per-call and documents-per-call limits. */
const BATCH = 1000;

function batches<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += BATCH) out.push(items.slice(i, i + BATCH));
  return out;
}

/** Deletes documents through the delete route (the delete tool's rules), batch by batch; returns the count. */
export async function deleteIds(collection: string, ids: string[]): Promise<number> {
  let deleted = 0;
  for (const batch of batches(ids))
    deleted += (await post<{ deleted: number }>("/delete", { collection, ids: batch })).deleted;
  return deleted;
}

/** Sets metadata on documents through the update route (update_documents' rules), batch by batch. */
export async function tagIds(
  collection: string,
  ids: string[],
  metadata: Record<string, Metadata[string] | null>,
): Promise<number> {
  let updated = 0;
  for (const batch of batches(ids))
    updated += (
      await post<{ updated: string[] }>("/update", {
        collection,
        documents: batch.map((id) => ({ id, metadata })),
      })
    ).updated.length;
  return updated;
}

/** A value typed in a form: JSON where it parses as a metadata value (7, true, ["a"]), else the text. */
export function metadataValueOf(text: string): Metadata[string] {
  try {
    const parsed: unknown = JSON.parse(text);
    if (
      typeof parsed === "number" ||
      typeof parsed === "boolean" ||
      typeof parsed === "string" ||
      (Array.isArray(parsed) && parsed.every((x) => typeof x === "string"))
    )
      return parsed as Metadata[string];
  } catch {
    // plain text
  }
  return text;
}

/**
 * The delete-many flow: a dry run first, whose count is shown, then a button that deletes exactly
 * those ids. `done` runs after a delete with the count.
 */
export async function confirmDelete(
  box: HTMLElement,
  collection: string,
  ids: string[],
  done: (deleted: number) => void,
): Promise<void> {
  try {
    let would = 0;
    for (const batch of batches(ids))
      would += (await post<{ deleted: number }>("/delete", { collection, ids: batch, dry_run: true }))
        .deleted;
    const yes = h(
      "button",
      {
        type: "button",
        class: "danger",
        onclick: () =>
          void deleteIds(collection, ids)
            .then(done)
            .catch((error: unknown) => box.replaceChildren(errorBox(error))),
      },
      `Delete ${would} document(s)`,
    );
    box.replaceChildren(
      h("p", { role: "alert" }, `Dry run: ${would} document(s) would be deleted.`),
      yes,
      h("button", { type: "button", onclick: () => box.replaceChildren() }, "Cancel"),
    );
    yes.focus();
  } catch (error) {
    box.replaceChildren(errorBox(error));
  }
}
