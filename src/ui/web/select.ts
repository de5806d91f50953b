import { type Collection, get } from "./api.js";
import { h } from "./dom.js";

/** A <select> of the collections, with `chosen` (else the first) selected. */
export async function collectionSelect(chosen: string): Promise<HTMLSelectElement> {
  const { collections } = await get<{ collections: Collection[] }>("/collections");
  const select = h("select", { name: "collection" });
  for (const c of collections)
    select.append(h("option", { value: c.name, selected: c.name === chosen }, c.name));
  if (chosen && !collections.some((c) => c.name === chosen))
    select.append(h("option", { value: chosen, selected: true }, chosen));
  return select;
}
