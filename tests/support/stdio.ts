import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

export const CLI = path.resolve("dist/cli.js");
export const TINY_BERT = path.resolve("tests/fixtures/tiny-bert");

export interface StdioServer {
  client: Client;
  /** Errors the client transport saw (a non-protocol line on stdout shows up here). */
  transportErrors: Error[];
  stderr(): string;
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

/**
 * Spawns the built server as an editor would and connects a real SDK client over stdio. In this
 * process, not through the shared daemon (VECTOR_MEMORY_NO_DAEMON=1): these tests read the
 * server's own stderr and kill it; tests/support/daemon.ts starts relays. `launcher`: a command
 * that runs the server, e.g. `["ip", "netns", "exec", name]` (tests/support/netns.ts).
 */
export async function spawnServer(
  args: string[],
  env: Record<string, string> = {},
  launcher: string[] = [],
): Promise<StdioServer> {
  const [command, ...prefix] = [...launcher, process.execPath];
  const transport = new StdioClientTransport({
    command: command as string,
    args: [...prefix, CLI, ...args],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", VECTOR_MEMORY_NO_DAEMON: "1", ...env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const transportErrors: Error[] = [];
  const client = new Client({ name: "e2e", version: "1.0.0" });
  client.onerror = (error) => transportErrors.push(error);
  await client.connect(transport);
  return {
    client,
    transportErrors,
    stderr: () => stderr,
    call: async (name, callArgs) => (await client.callTool({ name, arguments: callArgs })) as CallToolResult,
    close: () => client.close(),
  };
}
