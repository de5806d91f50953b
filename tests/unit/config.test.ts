import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  ArgvError,
  ConfigError,
  commandName,
  DEFAULT_MODEL,
  defaultDirs,
  readConfig,
} from "../../src/config.js";

const linux = { platform: "linux" as const, home: "/home/ada" };

describe("defaultDirs", () => {
  it("follows XDG on Linux and ignores relative XDG values", () => {
    expect(defaultDirs({}, linux)).toEqual({
      data: "/home/ada/.local/share/vector-memory-mcp",
      cache: "/home/ada/.cache/vector-memory-mcp",
    });
    expect(defaultDirs({ XDG_DATA_HOME: "/xdg/data", XDG_CACHE_HOME: "/xdg/cache" }, linux)).toEqual({
      data: "/xdg/data/vector-memory-mcp",
      cache: "/xdg/cache/vector-memory-mcp",
    });
    expect(defaultDirs({ XDG_DATA_HOME: "relative/dir" }, linux).data).toBe(
      "/home/ada/.local/share/vector-memory-mcp",
    );
  });

  it("uses the usual places on macOS and Windows", () => {
    expect(defaultDirs({}, { platform: "darwin", home: "/Users/ada" })).toEqual({
      data: "/Users/ada/Library/Application Support/vector-memory-mcp",
      cache: "/Users/ada/Library/Caches/vector-memory-mcp",
    });
    expect(
      defaultDirs(
        { LOCALAPPDATA: "C:\\Users\\ada\\AppData\\Local" },
        { platform: "win32", home: "C:\\Users\\ada" },
      ),
    ).toEqual({
      data: "C:\\Users\\ada\\AppData\\Local\\vector-memory-mcp\\Data",
      cache: "C:\\Users\\ada\\AppData\\Local\\vector-memory-mcp\\Cache",
    });
  });
});

describe("readConfig", () => {
  it("defaults to per-user directories, never the working directory", () => {
    const config = readConfig({}, [], linux);
    expect(config).toMatchObject({
      dbPath: "/home/ada/.local/share/vector-memory-mcp/db",
      modelCache: "/home/ada/.cache/vector-memory-mcp/models",
      model: DEFAULT_MODEL,
      dtype: undefined,
      offline: false,
      logLevel: "info",
      command: [],
    });
  });

  it("leaves ONNX Runtime thread spinning at its default unless asked, by flag or environment", () => {
    expect(readConfig({}, [], linux).ortSpinning).toBeUndefined();
    expect(readConfig({ VECTOR_MEMORY_ORT_SPINNING: "off" }, [], linux).ortSpinning).toBe(false);
    expect(
      readConfig({ VECTOR_MEMORY_ORT_SPINNING: "off" }, ["--ort-spinning", "on"], linux).ortSpinning,
    ).toBe(true);
    expect(() => readConfig({}, ["--ort-spinning", "sometimes"], linux)).toThrow(
      /--ort-spinning \/ VECTOR_MEMORY_ORT_SPINNING/,
    );
  });

  it("reads environment variables, and flags win over them", () => {
    const env = {
      VECTOR_MEMORY_DB_PATH: "/env/db",
      VECTOR_MEMORY_MODEL: "env/model",
      VECTOR_MEMORY_MODEL_CACHE: "/env/cache",
      VECTOR_MEMORY_OFFLINE: "1",
      VECTOR_MEMORY_DTYPE: "fp32",
      VECTOR_MEMORY_LOG_LEVEL: "debug",
    };
    expect(readConfig(env, [], linux)).toMatchObject({
      dbPath: "/env/db",
      model: "env/model",
      modelCache: "/env/cache",
      offline: true,
      dtype: "fp32",
      logLevel: "debug",
    });
    const flags = [
      "--db-path",
      "/flag/db",
      "--model",
      "flag/model",
      "--model-cache",
      "/flag/cache",
      "--dtype",
      "q8",
      "--log-level",
      "warn",
    ];
    expect(readConfig(env, flags, linux)).toMatchObject({
      dbPath: "/flag/db",
      model: "flag/model",
      modelCache: "/flag/cache",
      dtype: "q8",
      logLevel: "warn",
    });
    expect(readConfig({ VECTOR_MEMORY_OFFLINE: "0" }, ["--offline"], linux).offline).toBe(true);
    expect(readConfig({ VECTOR_MEMORY_OFFLINE: "false" }, [], linux).offline).toBe(false);
  });

  it("resolves relative paths to absolute ones", () => {
    expect(readConfig({}, ["--db-path", "rel/db"], linux).dbPath).toBe(path.resolve("rel/db"));
  });

  it("treats --dtype auto as no explicit dtype", () => {
    expect(readConfig({}, ["--dtype", "auto"], linux).dtype).toBeUndefined();
  });

  it("rejects bad values with messages naming the flag and variable", () => {
    const bad: Array<[Record<string, string>, string[], RegExp]> = [
      [{}, ["--unknown"], /Unknown option '--unknown'/],
      [{}, ["--db-path"], /argument missing/],
      [{ VECTOR_MEMORY_OFFLINE: "maybe" }, [], /VECTOR_MEMORY_OFFLINE/],
      [{}, ["--dtype", "q7"], /--dtype \/ VECTOR_MEMORY_DTYPE/],
      [{}, ["--log-level", "loud"], /--log-level/],
      [{}, ["--model", "  "], /--model \/ VECTOR_MEMORY_MODEL: must not be empty/],
      [{ VECTOR_MEMORY_DB_PATH: " " }, [], /--db-path \/ VECTOR_MEMORY_DB_PATH/],
    ];
    for (const [env, argv, message] of bad) {
      expect(() => readConfig(env, argv, linux)).toThrow(ConfigError);
      expect(() => readConfig(env, argv, linux)).toThrow(message);
    }
  });

  it("passes subcommand words through", () => {
    expect(readConfig({}, ["models", "list"], linux).command).toEqual(["models", "list"]);
  });

  it("takes a command's own options only when they are given to it", () => {
    expect(commandName(["--db-path", "search", "list", "--where", "{}"])).toBe("list");
    const where = { where: { type: "string" } } as const;
    const config = readConfig({}, ["search", "n", "q", "--where", "{}", "--offline"], linux, where);
    expect(config.flags).toEqual({ where: "{}" });
    expect(config.offline).toBe(true);
    expect(readConfig({}, ["list"], linux).flags).toEqual({});
    const error = (() => {
      try {
        readConfig({}, ["search", "n", "q", "--drop"], linux, where);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ArgvError);
    expect(error).toMatchObject({
      unknownOption: "--drop",
      detail: expect.stringContaining("Unknown option '--drop'"),
    });
  });
});
