/**
 * Input limits, in one place so the schemas, the error messages and the README agree.
 * They keep one call from exhausting memory or flooding an agent's context.
 */
export const LIMITS = {
  documentsPerCall: 1000,
  textChars: 100_000,
  queryChars: 10_000,
  idChars: 256,
  idsPerCall: 1000,
  metadataKeysPerDocument: 32,
  metadataKeysPerCollection: 256,
  metadataStringChars: 4096,
  metadataArrayItems: 100,
  nResultsMax: 100,
  nResultsDefault: 5,
  filterDepth: 8,
  filterConditions: 100,
  filterInValues: 1000,
} as const;

/** Collection names are table and directory names: no dots or slashes, so none can leave the database directory; lower case, so none collide on case-insensitive file systems. */
export const COLLECTION_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * Metadata keys become column names; SQL identifiers are always quoted, and this keeps them plain too.
 * `__proto__` is refused: assigning it on a plain object sets the prototype instead of a key.
 */
export const METADATA_KEY_PATTERN = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * Ids are any printable text; control characters are refused because they are invisible in every UI,
 * and a leading byte-order mark because LanceDB's reader drops it.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
export const ID_PATTERN = /^(?!\uFEFF)[^\u0000-\u001f\u007f]+$/;
