import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    globalSetup: ["tests/support/build.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // LanceDB's native threads and onnxruntime sessions are heavy; forks keep each file isolated.
    pool: "forks",
  },
});
