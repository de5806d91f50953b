import { get } from "./api.js";
import { h } from "./dom.js";
import { quiet } from "./writes.js";

/**
 * Live updates by polling: every POLL_MS the page asks /api/changes for a fingerprint of the
 * collections. Polling, not server-sent events, because most writes come from other processes (an
 * agent's stdio server, the CLI) that share the database directory: no process hears another's
 * commits, so a server pushing events would itself have to poll the store; one small GET every two
 * seconds is the same work with no connection to keep open. A change redraws the pages that are
 * views (collections, browse) unless a field has focus; the others get a notice with a button.
 */
export const POLL_MS = 2000;
const VIEW_PAGES = new Set(["collections", "browse"]);

export function startLiveUpdates(currentPage: () => string, redraw: () => void): void {
  let seen: string | undefined;
  const notice = h(
    "div",
    { class: "live-notice", role: "status", hidden: true },
    "The memory changed since this page was drawn. ",
    h("button", { type: "button", onclick: () => redraw() }, "Show the changes"),
  );
  document.body.prepend(notice);
  window.addEventListener("hashchange", () => {
    notice.hidden = true;
  });
  const tick = async () => {
    try {
      const { fingerprint } = await get<{ fingerprint: string }>("/changes");
      if (seen !== undefined && fingerprint !== seen && !quiet()) {
        const typing = document.activeElement?.matches("input, textarea, select") ?? false;
        if (VIEW_PAGES.has(currentPage()) && !typing) redraw();
        else notice.hidden = false;
      }
      seen = fingerprint;
    } catch {
      // Server gone or restarted: try again on the next tick.
    }
    setTimeout(() => void tick(), POLL_MS);
  };
  void tick();
}

/** Called after each redraw: the notice is about the page that was there before. */
export function hideLiveNotice(): void {
  const notice = document.querySelector<HTMLElement>(".live-notice");
  if (notice) notice.hidden = true;
}
