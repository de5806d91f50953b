import { describe, expect, it } from "vitest";
import { readConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { startHarness } from "../support/harness.js";
import { hashFactory } from "../support/hash-embedder.js";

interface SearchOut {
  results: { id: string }[];
}

const docs = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    id: `d${from + i}`,
    text: `note number ${from + i} about topic ${(from + i) % 7}`,
  }));

describe("the vector cache's memory budget from the config", () => {
  it("VECTOR_MEMORY_VECTOR_CACHE_MB reaches the store: a collection past it is logged once and still searched", async () => {
    const { vectorCacheMb } = readConfig({ VECTOR_MEMORY_VECTOR_CACHE_MB: "1" }, []);
    expect(vectorCacheMb).toBe(1);
    const lines: string[] = [];
    const logger = createLogger("info", (line) => lines.push(line));
    // 2,048 dimensions: 10,256 bytes per row in the cache, so 1 MiB holds about 100 rows, not 150.
    const h = await startHarness({
      logger,
      factory: hashFactory(() => 2048),
      ...(vectorCacheMb === undefined ? {} : { vectorCacheMb }),
    });
    try {
      await h.ok("add_documents", { collection: "small", documents: docs(0, 10) });
      await h.ok("search_similar", { collection: "small", query: "topic 3" });
      expect(lines.filter((l) => l.includes("vector cache"))).toEqual([]);
      await h.ok("add_documents", { collection: "big", documents: docs(0, 150) });
      const out = await h.ok<SearchOut>("search_similar", {
        collection: "big",
        query: "note number 149 about topic 2",
        n_results: 3,
        mode: "semantic",
      });
      // The hash test model ties many of these texts; LanceDB answers with three hits all the same.
      expect(out.results).toHaveLength(3);
      await h.ok("search_similar", { collection: "big", query: "topic 1", mode: "semantic" });
      const tooBig = lines.filter((l) => l.includes("vector cache"));
      expect(tooBig).toHaveLength(1);
      expect(tooBig[0]).toMatch(
        /^\[vector-memory-mcp\] warn: vector cache: collection "big" \(\d+ rows x 2048 dims\) needs [\d.]+ MiB but the cache has [\d.]+ MiB free of 1\.0 MiB/,
      );
      expect(tooBig[0]).toContain("its searches go to LanceDB");
    } finally {
      await h.close();
    }
  });
});
