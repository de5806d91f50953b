import { describe, expect, it } from "vitest";
import { belowLevel } from "../../src/daemon/relay.js";

/** The relay drops a daemon's log messages below the level its client asked for (relay.ts). */
describe("relay log levels", () => {
  it("drops what is less severe than the client's level, and nothing else", () => {
    expect(belowLevel("warning", "error")).toBe(true);
    expect(belowLevel("info", "warning")).toBe(true);
    expect(belowLevel("error", "error")).toBe(false);
    expect(belowLevel("critical", "error")).toBe(false);
    expect(belowLevel("debug", "debug")).toBe(false);
  });

  it("lets everything through when no level was asked for, or a level is unknown", () => {
    expect(belowLevel("debug", undefined)).toBe(false);
    expect(belowLevel("verbose", "error")).toBe(false);
    expect(belowLevel("debug", "loudest")).toBe(false);
  });
});
