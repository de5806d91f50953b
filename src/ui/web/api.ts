import { ownWrite } from "./writes.js";

/** Two polls of live.ts (POLL_MS 2000): its own writes are not news to the page. */
const QUIET_MS = 4000;

/** Calls to the UI server's JSON API; POSTs carry the CSRF token the server put in the page. */
const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";

export class ApiError extends Error {}

async function reply<T>(response: Response): Promise<T> {
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) throw new ApiError(body.error ?? `The server answered ${response.status}.`);
  return body as T;
}

export async function get<T>(
  route: string,
  params: Record<string, string | string[] | undefined> = {},
): Promise<T> {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) query.append(key, v);
  }
  return reply<T>(await fetch(`/api${route}?${query}`, { credentials: "same-origin" }));
}

export async function post<T>(route: string, body: unknown): Promise<T> {
  ownWrite(QUIET_MS);
  return reply<T>(
    await fetch(`/api${route}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    }),
  );
}

export type Metadata = Record<string, string | number | boolean | string[]>;

export interface Collection {
  name: string;
  count: number;
  chunks: number;
  bytes: number;
  model: string;
  dtype: string;
  dimensions: number;
}

export interface Doc {
  id: string;
  text: string;
  metadata: Metadata;
  chunks: number;
}

export interface DocPage {
  documents: Doc[];
  notFound: string[];
  nextCursor: string | null;
  total: number;
}

export interface Hit {
  id: string;
  chunk: number;
  snippet: string;
  score: number;
  matched_by: string[];
  metadata: Metadata;
}
