import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/**
 * The UI's login, as Jupyter does it: the printed URL carries a one-time token; visiting it trades
 * the token for a session cookie (HttpOnly, SameSite=Strict) and a CSRF token that the page reads
 * from its own HTML and sends back in a header on every state-changing request. The cookie alone
 * (which a browser attaches by itself) never changes data.
 */
export interface Sessions {
  /** The token for the printed URL; valid for one login. */
  readonly loginToken: string;
  /** The cookie's name: one per port, since browsers share cookies across ports of one host. */
  readonly cookieName: string;
  /** Trades the login token for a session; undefined if the token is wrong or already used. */
  login(token: string): { id: string; csrf: string } | undefined;
  /** The request's session (its CSRF token), from its cookie. */
  session(req: IncomingMessage): { csrf: string } | undefined;
  /** Whether the request carries its session's CSRF token. */
  csrfOk(req: IncomingMessage, session: { csrf: string }): boolean;
}

export const CSRF_HEADER = "x-csrf-token";

const random = () => randomBytes(32).toString("base64url");
/** Constant-time equality of two strings of any length (hashing evens the lengths). */
const same = (a: string, b: string) =>
  timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());

export function createSessions(port: number): Sessions {
  let loginToken: string | undefined = random();
  const printed = loginToken;
  const byId = new Map<string, { csrf: string }>();
  const cookieName = `vmm_ui_${port}`;
  return {
    loginToken: printed,
    cookieName,
    login(token) {
      if (loginToken === undefined || !same(token, loginToken)) return undefined;
      loginToken = undefined;
      const session = { id: random(), csrf: random() };
      byId.set(session.id, { csrf: session.csrf });
      return session;
    },
    session(req) {
      const id = readCookie(req.headers.cookie, cookieName);
      if (id === undefined) return undefined;
      for (const [known, session] of byId) if (same(id, known)) return session;
      return undefined;
    },
    csrfOk(req, session) {
      const sent = req.headers[CSRF_HEADER];
      return typeof sent === "string" && same(sent, session.csrf);
    },
  };
}

export function sessionCookie(name: string, id: string): string {
  return `${name}=${id}; HttpOnly; SameSite=Strict; Path=/`;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
