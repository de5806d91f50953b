import { type Child, h } from "./dom.js";

/** Pages live in the URL's hash (#/search?c=notes&q=...), so links, back and reload all work. */
export interface Route {
  page: string;
  params: URLSearchParams;
}

export function currentRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, "");
  const q = hash.indexOf("?");
  return {
    page: (q < 0 ? hash : hash.slice(0, q)) || "collections",
    params: new URLSearchParams(q < 0 ? "" : hash.slice(q + 1)),
  };
}

export function href(page: string, params: Record<string, string | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== "") query.set(key, value);
  const qs = query.toString();
  return `#/${page}${qs ? `?${qs}` : ""}`;
}

export function go(page: string, params: Record<string, string | undefined> = {}): void {
  const target = href(page, params);
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = target;
}

/** A message shown once, on the next page (e.g. "Deleted 1 document" after leaving the document). */
let flash: string | undefined;
export function setFlash(message: string): void {
  flash = message;
}
export function takeFlash(): Child {
  const message = flash;
  flash = undefined;
  return message ? h("p", { class: "notice", role: "status" }, message) : null;
}

export function errorBox(error: unknown): HTMLElement {
  return h("p", { class: "error", role: "alert" }, error instanceof Error ? error.message : String(error));
}
