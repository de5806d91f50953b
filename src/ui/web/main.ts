/**
 * The web UI's entry. Plain TypeScript modules bundled by esbuild: four pages need no framework, so
 * the bundle stays a few kilobytes with no runtime dependency to keep up to date, and every element
 * is made by dom.ts's h(), which only ever writes text. See README "Web UI".
 */
import { browsePage } from "./browse.js";
import { collectionsPage } from "./collections.js";
import { documentPage } from "./document.js";
import { h } from "./dom.js";
import { duplicatesPage } from "./duplicates.js";
import { hideLiveNotice, startLiveUpdates } from "./live.js";
import { currentRoute, errorBox, href, type Route } from "./router.js";
import { searchPage } from "./search.js";

const PAGES: Record<string, (route: Route) => Promise<HTMLElement>> = {
  collections: collectionsPage,
  browse: browsePage,
  search: searchPage,
  doc: documentPage,
  duplicates: duplicatesPage,
  // The map brings a chart library and a worker: loaded the first time the page is opened.
  map: async (route) => (await import("./map.js")).mapPage(route),
};

const main = document.getElementById("app") as HTMLElement;
let rendering = 0;

async function render(): Promise<void> {
  const route = currentRoute();
  const turn = ++rendering;
  main.setAttribute("aria-busy", "true");
  const collection = route.params.get("c") ?? undefined;
  for (const link of document.querySelectorAll<HTMLAnchorElement>("nav.top a")) {
    const page = link.dataset.page ?? "";
    link.href = href(page, page === "collections" ? {} : { c: collection });
    if (page === route.page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const make = PAGES[route.page];
  let content: HTMLElement;
  try {
    content = make ? await make(route) : h("p", {}, "No such page.");
  } catch (error) {
    content = h("section", {}, h("h1", { tabindex: -1 }, "Something went wrong"), errorBox(error));
  }
  if (turn !== rendering) return;
  main.replaceChildren(content);
  // Which route the content shows, so tests (and assistive tech, via aria-busy) know it is ready.
  main.dataset.route = location.hash;
  main.setAttribute("aria-busy", "false");
  content.querySelector<HTMLElement>("h1")?.focus();
}

window.addEventListener("hashchange", () => void render());
void render();
startLiveUpdates(
  () => currentRoute().page,
  () => {
    hideLiveNotice();
    void render();
  },
);
