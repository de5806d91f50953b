/** Every tool the server registers, sorted: the list the tests expect from tools/list. */
export const TOOL_NAMES = [
  "add_documents",
  "delete",
  "get_documents",
  "list_collections",
  "search_similar",
  "update_documents",
];
