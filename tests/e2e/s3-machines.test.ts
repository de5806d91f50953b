import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Machines, makeMachines, netnsUnavailable, type Relay } from "../support/netns.js";
import { findRadosgw, type S3TestStore, storedChunkKeys } from "../support/radosgw.js";
import { type StdioServer, spawnServer, TINY_BERT } from "../support/stdio.js";

/**
 * Three servers on three "machines" (network namespaces, tests/support/netns.ts) sharing one
 * s3:// memory on radosgw, which they reach over the bridge at the host's address (a TCP relay
 * there forwards to radosgw on loopback). They write one collection at once: their own documents,
 * upserts of the same ids, deletes. Then every acknowledged write is there, no (id, chunk) is
 * stored twice, and each server sees the others' writes on its next call.
 * Skipped, saying why, without radosgw or without root for `ip netns`.
 */
const found = await findRadosgw();
const s3: S3TestStore | undefined = "bucket" in found ? found : undefined;
const noNetns = s3 ? netnsUnavailable() : undefined;
const skip = !s3 ? ("reason" in found ? found.reason : "") : noNetns;

interface GetOut {
  documents: Array<{ id: string; text: string; chunks: number }>;
  not_found: string[];
}

const MACHINES = 3;
const SHARED = ["s0", "s1", "s2"];

describe.skipIf(skip !== undefined)(
  `several machines on one s3:// memory${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    const store = s3 as S3TestStore;
    const dbPath = `s3://${store?.bucket}/machines-${randomUUID()}`;
    let machines: Machines;
    let relay: Relay;
    const servers: StdioServer[] = [];

    beforeAll(async () => {
      machines = makeMachines(MACHINES);
      relay = await machines.relay(new URL(store.options.endpoint as string).host);
      for (const name of machines.names) {
        servers.push(
          await spawnServer(
            [],
            {
              VECTOR_MEMORY_DB_PATH: dbPath,
              VECTOR_MEMORY_S3_ENDPOINT: `http://${machines.hostAddress}:${relay.port}`,
              VECTOR_MEMORY_S3_ACCESS_KEY_ID: store.options.accessKeyId ?? "",
              VECTOR_MEMORY_S3_SECRET_ACCESS_KEY: store.options.secretAccessKey ?? "",
              VECTOR_MEMORY_S3_ALLOW_HTTP: "1",
              VECTOR_MEMORY_MODEL: TINY_BERT,
              VECTOR_MEMORY_OFFLINE: "1",
              VECTOR_MEMORY_LOG_LEVEL: "warn",
            },
            ["ip", "netns", "exec", name],
          ),
        );
      }
    }, 60_000);
    afterAll(async () => {
      await Promise.all(servers.map((server) => server.close()));
      await relay?.close();
      machines?.remove();
    });

    it("writing one collection at once: every acknowledged write is there once, and seen by all", async () => {
      const failed: string[] = [];
      const ok = async (server: StdioServer, tool: string, args: Record<string, unknown>) => {
        const result = await server.call(tool, { collection: "team", ...args });
        if (result.isError) failed.push(`${tool}: ${JSON.stringify(result.content)}`);
        return !result.isError;
      };
      // Each machine: its own documents in three calls, two rounds of upserts of the shared ids,
      // then deletes two of its own. Which machine's last upsert of a shared id wins is open.
      const lastShared = new Map<string, Set<string>>();
      await Promise.all(
        servers.map(async (server, m) => {
          for (let call = 0; call < 3; call++) {
            const documents = [0, 1].map((k) => ({
              id: `m${m}-${call * 2 + k}`,
              text: `note ${call * 2 + k} of machine ${m}`,
            }));
            await ok(server, "add_documents", { documents });
          }
          for (const round of [0, 1]) {
            const text = (id: string) => `${id} as machine ${m} wrote it in round ${round}`;
            if (
              await ok(server, "add_documents", { documents: SHARED.map((id) => ({ id, text: text(id) })) })
            )
              for (const id of SHARED)
                if (round === 1) lastShared.set(id, (lastShared.get(id) ?? new Set()).add(text(id)));
          }
          await ok(server, "delete", { ids: [`m${m}-0`, `m${m}-1`] });
        }),
      );
      expect(failed).toEqual([]);
      const kept = servers.flatMap((_, m) => [2, 3, 4, 5].map((k) => `m${m}-${k}`));
      const deleted = servers.flatMap((_, m) => [`m${m}-0`, `m${m}-1`]);
      // Every machine, on its next call, sees every machine's writes.
      for (const server of servers) {
        const got = (
          await server.call("get_documents", { collection: "team", ids: [...kept, ...SHARED, ...deleted] })
        ).structuredContent as unknown as GetOut;
        expect(got.not_found.sort()).toEqual(deleted.sort());
        expect(got.documents.map((d) => d.id).sort()).toEqual([...kept, ...SHARED].sort());
        for (const id of SHARED)
          expect(lastShared.get(id)).toContain(got.documents.find((d) => d.id === id)?.text);
      }
      // No (id, chunk) twice, as one more machine reads the table.
      const keys = await storedChunkKeys(dbPath, store.options, "team");
      expect(keys.length).toBe(new Set(keys).size);
      expect(keys).toHaveLength(kept.length + SHARED.length);
      // A write on one machine is read on the others' next call.
      await ok(servers[0] as StdioServer, "add_documents", {
        documents: [{ id: "late", text: "written last by machine 0" }],
      });
      for (const server of servers.slice(1)) {
        const got = (await server.call("get_documents", { collection: "team", ids: ["late"] }))
          .structuredContent as unknown as GetOut;
        expect(got.documents.map((d) => d.text)).toEqual(["written last by machine 0"]);
      }
    }, 120_000);
  },
);
