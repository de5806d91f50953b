import { type DocPage, get } from "./api.js";
import { metadataValueOf } from "./bulk.js";
import { field, h, preview } from "./dom.js";
import { errorBox, go, href, type Route, takeFlash } from "./router.js";
import { collectionSelect } from "./select.js";

export async function browsePage({ params }: Route): Promise<HTMLElement> {
  const collection = params.get("c") ?? "";
  const where = params.get("where") ?? "";
  const limit = params.get("limit") ?? "20";
  const cursor = params.get("cursor") ?? undefined;

  const select = await collectionSelect(collection);
  const whereInput = h("input", {
    type: "text",
    name: "where",
    value: where,
    placeholder: '{"topic": "ops"}',
  });
  const limitInput = h("input", { type: "number", name: "limit", min: 1, max: 100, value: limit });
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (event: Event) => {
        event.preventDefault();
        go("browse", { c: select.value, where: whereInput.value.trim(), limit: limitInput.value });
      },
    },
    field("Collection", select),
    field("Filter (where, JSON)", whereInput, 'Same syntax as the tools: {"key": value}, $eq $in $gt …'),
    field("Page size", limitInput),
    h("button", { type: "submit" }, "Apply"),
  );

  const section = h(
    "section",
    {},
    h("h1", { tabindex: -1 }, "Browse"),
    takeFlash(),
    form,
    conditionForm(whereInput),
  );
  const name = collection || select.value;
  if (!name) return section;
  try {
    const page = await get<DocPage>("/documents", {
      collection: name,
      where: where || undefined,
      limit,
      cursor,
    });
    section.append(
      h(
        "p",
        { class: "summary", role: "status" },
        `${page.total} document(s) match; showing ${page.documents.length}.`,
      ),
      page.documents.length === 0
        ? h("p", {}, "Nothing to show.")
        : h(
            "table",
            { class: "documents" },
            h(
              "thead",
              {},
              h("tr", {}, ...["Id", "Text", "Metadata", "Chunks"].map((t) => h("th", { scope: "col" }, t))),
            ),
            h(
              "tbody",
              {},
              ...page.documents.map((d) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, h("a", { href: href("doc", { c: name, id: d.id }) }, d.id)),
                  h("td", { class: "text" }, preview(d.text)),
                  h("td", { class: "meta" }, h("code", {}, JSON.stringify(d.metadata))),
                  h("td", { class: "num" }, d.chunks),
                ),
              ),
            ),
          ),
      h(
        "nav",
        { class: "pager", "aria-label": "Pages" },
        cursor ? h("a", { href: href("browse", { c: name, where, limit }) }, "First page") : null,
        page.nextCursor
          ? h(
              "a",
              { href: href("browse", { c: name, where, limit, cursor: page.nextCursor }), rel: "next" },
              "Next page",
            )
          : null,
      ),
    );
  } catch (error) {
    section.append(errorBox(error));
  }
  return section;
}

const OPERATORS: Array<[string, string]> = [
  ["$eq", "is"],
  ["$ne", "is not"],
  ["$gt", ">"],
  ["$gte", "≥"],
  ["$lt", "<"],
  ["$lte", "≤"],
  ["$in", "is one of (comma-separated)"],
];

/**
 * A small form for one simple condition (key, operator, value) that writes the where JSON for the
 * user: conditions added one after another are joined with $and. The JSON stays visible and
 * editable, so the form teaches the syntax rather than hiding it.
 */
function conditionForm(whereInput: HTMLInputElement): HTMLElement {
  const key = h("input", { type: "text", placeholder: "topic", spellcheck: "false" });
  const op = h("select", {}, ...OPERATORS.map(([value, label]) => h("option", { value }, label)));
  const value = h("input", { type: "text", placeholder: "ops" });
  const problem = h("p", { class: "notice", role: "status" });
  return h(
    "form",
    {
      class: "filters conditions",
      onsubmit: (event: Event) => {
        event.preventDefault();
        problem.replaceChildren();
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key.value)) {
          problem.replaceChildren(errorBox("A key is letters, digits and _, starting with a letter or _."));
          return;
        }
        const parsed =
          op.value === "$in"
            ? value.value.split(",").map((v) => metadataValueOf(v.trim()))
            : metadataValueOf(value.value);
        const condition = { [key.value]: { [op.value]: parsed } };
        let existing: unknown;
        try {
          existing = whereInput.value.trim() ? JSON.parse(whereInput.value) : undefined;
        } catch {
          problem.replaceChildren(errorBox("The filter above is not JSON; fix or clear it first."));
          return;
        }
        whereInput.value = JSON.stringify(
          existing === undefined ? condition : { $and: [existing, condition] },
        );
      },
    },
    field("Key", key),
    field("Operator", op),
    field("Value", value, '7, true and "text" are typed as JSON; anything else is text'),
    h("button", { type: "submit" }, "Add condition"),
    problem,
  );
}
