/**
 * Builds elements from text nodes only: every string a caller passes, attribute or child, lands as
 * text (setAttribute / createTextNode), never as HTML, so stored data cannot become markup. The UI
 * has no other way of making DOM, and nothing here or elsewhere assigns innerHTML.
 */
export type Child = Node | string | number | null | undefined | false;
type Props = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/** A labelled form field: the label names it for screen readers and clicking it focuses the input. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const id = `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  control.id = id;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("small", {}, hint) : null,
  );
}

/**
 * The text with the query's words wrapped in <mark>, as nodes: the words only choose where to split,
 * and each piece is a text node, so neither the text nor the query can inject markup.
 */
export function markWords(text: string, query: string): Node[] {
  const words = [...new Set(query.match(/[\p{L}\p{N}]{2,}/gu) ?? [])];
  if (words.length === 0) return [document.createTextNode(text)];
  words.sort((a, b) => b.length - a.length);
  const pattern = new RegExp(
    `(${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})`,
    "giu",
  );
  return text
    .split(pattern)
    .map((piece, i) => (i % 2 === 1 ? h("mark", {}, piece) : document.createTextNode(piece)));
}

export function preview(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
