import { COLLECTION_NAME_PATTERN } from "../../limits.js";

/**
 * Which LanceDB table holds a collection. Re-embedding writes a whole new table (a generation)
 * in one commit and then drops the old ones, so the newest generation is always the live one.
 */

/** `name` for generation 0, `name.g<N>` after N re-embeddings; the dot cannot occur in a collection name. */
export function tableName(collection: string, generation: number): string {
  return generation === 0 ? collection : `${collection}.g${generation}`;
}

/** The collection and generation a table holds; undefined for tables we did not make. */
export function parseTableName(name: string): { collection: string; generation: number } | undefined {
  const match = /^(.+?)(?:\.g([1-9][0-9]*))?$/.exec(name);
  if (!match?.[1] || !COLLECTION_NAME_PATTERN.test(match[1])) return undefined;
  return { collection: match[1], generation: match[2] ? Number(match[2]) : 0 };
}

/** The collection's generations among these table names, oldest first. */
export function generationsOf(collection: string, names: string[]): number[] {
  return names
    .map(parseTableName)
    .filter((parsed) => parsed?.collection === collection)
    .map((parsed) => parsed?.generation as number)
    .sort((a, b) => a - b);
}

/** The newest generation is the live one: it was created complete, in one commit. */
export function liveGeneration(collection: string, names: string[]): number | undefined {
  return generationsOf(collection, names).at(-1);
}

/** The collections these tables hold; tables we did not make (other tools sharing the directory) are not collections. */
export function collectionsIn(names: string[]): Set<string> {
  return new Set(names.map((name) => parseTableName(name)?.collection).filter((c) => c !== undefined));
}
