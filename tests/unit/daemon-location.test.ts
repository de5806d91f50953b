import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { daemonPlaceFor, planStart, secureSocketDir } from "../../src/daemon/location.js";
import { initializeResult, PROTOCOL_VERSIONS } from "../../src/server-info.js";

const linux = { platform: "linux" as const, home: "/home/ada" };
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("when the stdio entry is a relay", () => {
  it("relays the plain server only: commands, --http, --help and --no-daemon run the full program", () => {
    expect(planStart({}, [], linux).kind).toBe("relay");
    expect(planStart({}, ["--db-path", "/d", "--offline"], linux).kind).toBe("relay");
    for (const argv of [["list"], ["--http"], ["--help"], ["-v"], ["--no-daemon"], ["--bogus"]])
      expect(planStart({}, argv, linux).kind, argv.join(" ")).toBe("full");
    expect(planStart({ VECTOR_MEMORY_NO_DAEMON: "1" }, [], linux).kind).toBe("full");
    expect(planStart({ VECTOR_MEMORY_NO_DAEMON: "0" }, [], linux).kind).toBe("relay");
    expect(planStart({ VECTOR_MEMORY_HTTP: "yes" }, [], linux).kind).toBe("full");
    // A value only the full parser can judge (and report).
    expect(planStart({ VECTOR_MEMORY_NO_DAEMON: "maybe" }, [], linux).kind).toBe("full");
    expect(planStart({}, [], { platform: "win32", home: "C:\\Users\\ada" }).kind).toBe("full");
  });
});

describe("one daemon per database location", () => {
  it("keys the socket by location, not by the flags' spelling or the command", () => {
    const a = daemonPlaceFor({}, ["--db-path", "/data/db"], linux);
    const b = daemonPlaceFor({ VECTOR_MEMORY_DB_PATH: "/data/db" }, ["daemon", "status"], linux);
    expect(b.socketPath).toBe(a.socketPath);
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(daemonPlaceFor({}, ["--db-path", "/data/other"], linux).socketPath).not.toBe(a.socketPath);
    // Other options: the same place, another fingerprint (a relay then does not use that daemon).
    const model = daemonPlaceFor({}, ["--db-path", "/data/db", "--model", "use-lite"], linux);
    expect(model.socketPath).toBe(a.socketPath);
    expect(model.fingerprint).not.toBe(a.fingerprint);
  });

  it("tells object-storage databases apart by URI and endpoint", () => {
    const s3 = (uri: string, endpoint: string) =>
      daemonPlaceFor({ VECTOR_MEMORY_S3_ENDPOINT: endpoint }, ["--db-path", uri], linux);
    const one = s3("s3://bucket/memory", "http://127.0.0.1:7480");
    expect(one.location).toBe("s3://bucket/memory at http://127.0.0.1:7480");
    expect(s3("s3://bucket/memory", "http://127.0.0.1:7480").socketPath).toBe(one.socketPath);
    expect(s3("s3://bucket/other", "http://127.0.0.1:7480").socketPath).not.toBe(one.socketPath);
    expect(s3("s3://bucket/memory", "https://s3.example.com").socketPath).not.toBe(one.socketPath);
  });

  it("keeps socket paths short enough for a Unix socket, in a per-user directory", () => {
    const place = daemonPlaceFor({ XDG_RUNTIME_DIR: "/run/user/1000" }, [], linux);
    expect(place.socketDir).toBe("/run/user/1000/vector-memory-mcp");
    expect(place.socketPath.length).toBeLessThan(100);
    expect(place.logPath).toMatch(/^\/home\/ada\/\.local\/share\/vector-memory-mcp\/daemon\/[0-9a-f]+\.log$/);
    expect(daemonPlaceFor({ VECTOR_MEMORY_DAEMON_DIR: "/tmp/x" }, [], linux).socketDir).toBe("/tmp/x");
  });

  it("uses a socket directory only when it is this user's alone", () => {
    const base = mkdtempSync(path.join(tmpdir(), "vmm-sockdir-"));
    dirs.push(base);
    expect(secureSocketDir(path.join(base, "fresh"))).toBeUndefined();
    const open = path.join(base, "open");
    mkdirSync(open, { mode: 0o755 });
    expect(secureSocketDir(open)).toMatch(/mode 0755/);
    symlinkSync(path.join(base, "fresh"), path.join(base, "link"));
    expect(secureSocketDir(path.join(base, "link"))).toMatch(/not a directory/);
  });
});

describe("the relay's own initialize answer", () => {
  it("lists the protocol versions the SDK supports, in its order", () => {
    expect([...PROTOCOL_VERSIONS]).toEqual(SUPPORTED_PROTOCOL_VERSIONS);
  });

  it("negotiates as the SDK's server does", () => {
    expect(initializeResult("2025-06-18").protocolVersion).toBe("2025-06-18");
    expect(initializeResult("1999-01-01").protocolVersion).toBe(SUPPORTED_PROTOCOL_VERSIONS[0]);
  });
});
