import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { type App, createApp } from "../../src/app.js";
import type { EmbedderFactory } from "../../src/embeddings/registry.js";
import { type Logger, silentLogger } from "../../src/logger.js";
import { createServer } from "../../src/server.js";
import { isRemoteUri, type ObjectStoreOptions } from "../../src/storage-uri.js";
import { hashFactory } from "./hash-embedder.js";

export function tempDir(prefix = "vmm-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Harness {
  client: Client;
  app: App;
  dbPath: string;
  /** Calls a tool and returns the raw result (errors included). */
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  /** Calls a tool, fails the test on isError, returns structuredContent. */
  ok<T = Record<string, unknown>>(name: string, args: Record<string, unknown>): Promise<T>;
  /** Calls a tool, fails the test unless isError, returns the error text. */
  error(name: string, args: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** A local directory or an object-storage URI; default a fresh temp directory. */
  dbPath?: string;
  objectStore?: ObjectStoreOptions;
  model?: string;
  dtype?: string;
  factory?: EmbedderFactory;
  logger?: Logger;
  /** The clock for documents' times, in ms (default Date.now). */
  now?: () => number;
  /** The vector cache's memory, MiB (config's vectorCacheMb; default the store's). */
  vectorCacheMb?: number;
}

let remoteDefault: (() => Pick<HarnessOptions, "dbPath" | "objectStore">) | undefined;

/**
 * Makes every harness of this test file that names no dbPath open a fresh remote database from
 * `make` instead of a temp directory: a suite written for a directory then runs on `s3://` as it
 * is (tests/integration/s3-tools.test.ts). Vitest gives each file its own modules, so this stays
 * within the file that calls it.
 */
export function useRemoteDatabases(make: () => Pick<HarnessOptions, "dbPath" | "objectStore">): void {
  remoteDefault = make;
}

/** True when this file's harnesses default to a remote database (see useRemoteDatabases). */
export function remoteDatabases(): boolean {
  return remoteDefault !== undefined;
}

/** A real SDK Client linked to createServer() over InMemoryTransport, on a fresh temp database. */
export async function startHarness(given: HarnessOptions = {}): Promise<Harness> {
  const options = given.dbPath === undefined && remoteDefault ? { ...given, ...remoteDefault() } : given;
  const remote = options.dbPath !== undefined && isRemoteUri(options.dbPath);
  const temp = options.dbPath && !remote ? undefined : tempDir();
  const dbPath = options.dbPath ?? path.join(temp?.dir as string, "db");
  const app = createApp(
    {
      dbPath,
      model: options.model ?? "test/hash-64",
      dtype: options.dtype ?? "fp32",
      modelCache: remote ? path.join(temp?.dir as string, "cache") : path.join(dbPath, "..", "cache"),
      offline: true,
      ...(options.objectStore ? { objectStore: options.objectStore } : {}),
      ...(options.now ? { now: options.now } : {}),
      ...(options.vectorCacheMb === undefined ? {} : { vectorCacheMb: options.vectorCacheMb }),
    },
    options.logger ?? silentLogger,
    options.factory ?? hashFactory(),
  );
  const server = createServer({ memory: app.memory, logger: options.logger ?? silentLogger });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "test-client", version: "1.0.0" });
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);

  const call = async (name: string, args: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = (result: CallToolResult) =>
    result.content.map((c) => (c.type === "text" ? c.text : `[${c.type}]`)).join("\n");

  return {
    client,
    app,
    dbPath,
    call,
    async ok<T>(name: string, args: Record<string, unknown>) {
      const result = await call(name, args);
      if (result.isError) throw new Error(`${name} returned isError: ${text(result)}`);
      return result.structuredContent as T;
    },
    async error(name: string, args: Record<string, unknown>) {
      const result = await call(name, args);
      if (!result.isError)
        throw new Error(`${name} unexpectedly succeeded: ${JSON.stringify(result.structuredContent)}`);
      return text(result);
    },
    async close() {
      await client.close();
      await server.close();
      await app.close();
      temp?.cleanup();
    },
  };
}

/** `add(id)` adds one short note to `collection` per call; `acked` lists the ids whose call succeeded. */
export function ackedAdds(h: Pick<Harness, "call">, collection = "notes") {
  const acked: string[] = [];
  const add = async (id: string): Promise<CallToolResult> => {
    const result = await h.call("add_documents", { collection, documents: [{ id, text: `note ${id}` }] });
    if (!result.isError) acked.push(id);
    return result;
  };
  return { acked, add };
}
