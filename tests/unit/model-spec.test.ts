import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { looksLikePath, resolveModelSpec, specFromRecord, specId } from "../../src/embeddings/model-spec.js";
import { tempDir } from "../support/harness.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe("resolveModelSpec", () => {
  it("treats ids as hub models with q8 by default", () => {
    expect(resolveModelSpec("Xenova/all-MiniLM-L6-v2", undefined, "/h")).toEqual({
      kind: "hub",
      name: "Xenova/all-MiniLM-L6-v2",
      dtype: "q8",
    });
    expect(resolveModelSpec("Xenova/bge-small-en-v1.5", "fp32", "/h").dtype).toBe("fp32");
  });

  it("knows the bundled model", () => {
    expect(resolveModelSpec("use-lite", "q8", "/h")).toEqual({
      kind: "bundled",
      name: "use-lite",
      dtype: "fp32",
    });
  });

  it("resolves local directories to absolute paths and detects the weights they have", () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    mkdirSync(path.join(dir, "onnx"));
    expect(resolveModelSpec(dir, undefined, "/h")).toEqual({ kind: "local", name: dir, dtype: "fp32" });
    writeFileSync(path.join(dir, "onnx", "model_quantized.onnx"), "");
    expect(resolveModelSpec(dir, undefined, "/h").dtype).toBe("q8");
    expect(resolveModelSpec(dir, "fp32", "/h").dtype).toBe("fp32");
    expect(resolveModelSpec("~/models/x", undefined, "/home/ada").name).toBe("/home/ada/models/x");
    expect(resolveModelSpec("./m", undefined, "/h").name).toBe(path.resolve("m"));
  });

  it("tells paths from hub ids", () => {
    for (const p of ["/abs", "./rel", "../up", "~/home", "C:\\models\\x", "."])
      expect(looksLikePath(p)).toBe(true);
    for (const id of ["Xenova/all-MiniLM-L6-v2", "bert-base-uncased", "org/model.v2"])
      expect(looksLikePath(id)).toBe(false);
  });

  it("maps a collection's record back to the model it was made with", () => {
    expect(specFromRecord({ model: "/models/mine", dtype: "fp32", dimensions: 8 })).toEqual({
      kind: "local",
      name: "/models/mine",
      dtype: "fp32",
    });
    expect(specFromRecord({ model: "Xenova/x", dtype: "q8", dimensions: 8 }).kind).toBe("hub");
    expect(specFromRecord({ model: "use-lite", dtype: "fp32", dimensions: 512 }).kind).toBe("bundled");
    expect(specId({ name: "a/b", dtype: "q8" })).toBe("a/b@q8");
  });
});
