import { get, type Hit, post } from "./api.js";
import { field, h, markWords } from "./dom.js";
import { errorBox, go, href, type Route } from "./router.js";
import { collectionSelect } from "./select.js";

const MODES = ["hybrid", "semantic", "keyword"];

export async function searchPage({ params }: Route): Promise<HTMLElement> {
  const collection = params.get("c") ?? "";
  const query = params.get("q") ?? "";
  const mode = params.get("mode") ?? "hybrid";
  const where = params.get("where") ?? "";
  const n = params.get("n") ?? "10";
  const minScore = params.get("min") ?? "";

  const select = await collectionSelect(collection);
  const queryInput = h("input", { type: "search", name: "q", value: query, required: true });
  const modeSelect = h(
    "select",
    { name: "mode" },
    ...MODES.map((m) => h("option", { value: m, selected: m === mode }, m)),
  );
  const whereInput = h("input", {
    type: "text",
    name: "where",
    value: where,
    placeholder: '{"topic": "ops"}',
  });
  const nInput = h("input", { type: "number", name: "n", min: 1, max: 100, value: n });
  const minInput = h("input", { type: "number", name: "min", min: -1, max: 1, step: "any", value: minScore });
  const form = h(
    "form",
    {
      class: "filters",
      role: "search",
      onsubmit: (event: Event) => {
        event.preventDefault();
        go("search", {
          c: select.value,
          q: queryInput.value,
          mode: modeSelect.value,
          where: whereInput.value.trim(),
          n: nInput.value,
          min: minInput.value,
        });
      },
    },
    field("Collection", select),
    field("Query", queryInput),
    field("Mode", modeSelect),
    field("Filter (where, JSON)", whereInput),
    field("Results", nInput),
    field("Minimum score", minInput, "cosine, -1 to 1"),
    h("button", { type: "submit" }, "Search"),
  );
  const section = h("section", {}, h("h1", { tabindex: -1 }, "Search"), form);
  const like = params.get("like") ?? "";
  if (like && select.value) {
    try {
      const { results } = await get<{ results: Hit[] }>("/similar", {
        collection: select.value,
        id: like,
        n,
      });
      section.append(
        h(
          "h2",
          {},
          `${results.length} document(s) similar to `,
          h("a", { href: href("doc", { c: select.value, id: like }) }, like),
        ),
        resultList(select.value, results, ""),
      );
    } catch (error) {
      section.append(errorBox(error));
    }
    return section;
  }
  if (!query.trim() || !select.value) return section;
  try {
    let filter: unknown;
    if (where) {
      try {
        filter = JSON.parse(where);
      } catch {
        throw new Error('The filter is not JSON; write it like {"topic": "ops"}.');
      }
    }
    const { results } = await post<{ results: Hit[] }>("/search", {
      collection: select.value,
      query,
      mode,
      n_results: Number(n),
      ...(filter === undefined ? {} : { where: filter }),
      ...(minScore === "" ? {} : { min_score: Number(minScore) }),
    });
    section.append(h("h2", {}, `${results.length} result(s)`), resultList(select.value, results, query));
  } catch (error) {
    section.append(errorBox(error));
  }
  return section;
}

function resultList(collection: string, results: Hit[], query: string): HTMLElement {
  return h(
    "ol",
    { class: "results" },
    ...results.map((r) =>
      h(
        "li",
        { class: "result" },
        h(
          "div",
          { class: "result-head" },
          h("a", { class: "doc-link", href: href("doc", { c: collection, id: r.id }) }, r.id),
          h("span", { class: "score", title: "cosine similarity" }, `score ${r.score.toFixed(3)}`),
          h("span", { class: "matched" }, `matched by ${r.matched_by.join(" + ")}`),
          r.chunk > 0 ? h("span", {}, `chunk ${r.chunk}`) : null,
          h("a", { class: "similar", href: href("search", { c: collection, like: r.id }) }, "Find similar"),
        ),
        h("p", { class: "snippet" }, ...markWords(r.snippet, query)),
        Object.keys(r.metadata).length > 0 ? h("code", { class: "meta" }, JSON.stringify(r.metadata)) : null,
      ),
    ),
  );
}
