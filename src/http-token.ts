import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

export const MIN_TOKEN_CHARS = 16;

/**
 * The HTTP bearer token: VECTOR_MEMORY_TOKEN if set, else the token file, created on first use
 * with 32 random bytes and 0600 permissions (in a 0700 directory) so only this user can read it.
 */
export function resolveToken(
  envToken: string | undefined,
  tokenFile: string,
): { token: string; source: string } {
  if (envToken !== undefined && envToken !== "") {
    if (envToken.length < MIN_TOKEN_CHARS) {
      throw new Error(`VECTOR_MEMORY_TOKEN must be at least ${MIN_TOKEN_CHARS} characters.`);
    }
    return { token: envToken, source: "VECTOR_MEMORY_TOKEN" };
  }
  if (existsSync(tokenFile)) {
    if (process.platform !== "win32" && (statSync(tokenFile).mode & 0o077) !== 0) {
      // Tighten rather than refuse: the file is ours, and a loose mode is a leak waiting to happen.
      chmodSync(tokenFile, 0o600);
    }
    const token = readFileSync(tokenFile, "utf8").trim();
    if (token.length < MIN_TOKEN_CHARS)
      throw new Error(`The token in ${tokenFile} is shorter than ${MIN_TOKEN_CHARS} characters.`);
    return { token, source: tokenFile };
  }
  mkdirSync(path.dirname(tokenFile), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString("base64url");
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600, flag: "wx" });
  return { token, source: tokenFile };
}
