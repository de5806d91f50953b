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

  it("reads the vector cache's memory in MiB, refusing what is not a whole number of them", () => {
    expect(readConfig({}, [], linux).vectorCacheMb).toBeUndefined();
    expect(readConfig({ VECTOR_MEMORY_VECTOR_CACHE_MB: "256" }, [], linux).vectorCacheMb).toBe(256);
    expect(
      readConfig({ VECTOR_MEMORY_VECTOR_CACHE_MB: "256" }, ["--vector-cache-mb", "0"], linux).vectorCacheMb,
    ).toBe(0);
    for (const bad of ["-1", "1.5", "lots"]) {
      expect(() => readConfig({}, [`--vector-cache-mb=${bad}`], linux)).toThrow(
        /--vector-cache-mb \/ VECTOR_MEMORY_VECTOR_CACHE_MB/,
      );
    }
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

  it("keeps an object-storage URI as given and reads the S3 options from flags or environment", () => {
    const uri = "s3://bucket/team/memory";
    const config = readConfig({ VECTOR_MEMORY_DB_PATH: uri }, [], linux);
    expect(config.dbPath).toBe(uri);
    // Nothing set: every option stays unset, so LanceDB's own AWS_* variables decide.
    expect(Object.values(config.objectStore).every((v) => v === undefined)).toBe(true);
    expect(readConfig({}, ["--db-path", "s3+ddb://b/p?ddbTableName=t"], linux).dbPath).toBe(
      "s3+ddb://b/p?ddbTableName=t",
    );
    const env = {
      VECTOR_MEMORY_S3_ENDPOINT: "http://127.0.0.1:7480",
      VECTOR_MEMORY_S3_REGION: "eu-west-1",
      VECTOR_MEMORY_S3_ACCESS_KEY_ID: "env-key",
      VECTOR_MEMORY_S3_SECRET_ACCESS_KEY: "env-secret",
      VECTOR_MEMORY_S3_SESSION_TOKEN: "env-token",
      VECTOR_MEMORY_S3_ALLOW_HTTP: "1",
      VECTOR_MEMORY_S3_UNSAFE_SINGLE_WRITER: "0",
    };
    expect(readConfig(env, ["--db-path", uri], linux).objectStore).toEqual({
      endpoint: "http://127.0.0.1:7480",
      region: "eu-west-1",
      accessKeyId: "env-key",
      secretAccessKey: "env-secret",
      sessionToken: "env-token",
      allowHttp: true,
      unsafeSingleWriter: false,
    });
    const flags = [
      "--db-path",
      uri,
      "--s3-endpoint",
      "https://s3.example.com",
      "--s3-access-key-id",
      "flag-key",
      "--s3-secret-access-key",
      "flag-secret",
      "--s3-allow-http",
      "--s3-unsafe-single-writer",
    ];
    expect(readConfig(env, flags, linux).objectStore).toMatchObject({
      endpoint: "https://s3.example.com",
      accessKeyId: "flag-key",
      secretAccessKey: "flag-secret",
      region: "eu-west-1",
      allowHttp: true,
      unsafeSingleWriter: true,
    });
  });

  it("refuses an s3:// URI without a bucket and a bad endpoint, naming the flag", () => {
    expect(() => readConfig({}, ["--db-path", "s3://"], linux)).toThrow(/--db-path .*needs a bucket/);
    expect(() => readConfig({ VECTOR_MEMORY_S3_ENDPOINT: "ftp://x" }, [], linux)).toThrow(
      /--s3-endpoint \/ VECTOR_MEMORY_S3_ENDPOINT: must be an http\(s\) URL/,
    );
    expect(() => readConfig({ VECTOR_MEMORY_S3_ALLOW_HTTP: "perhaps" }, [], linux)).toThrow(
      /--s3-allow-http \/ VECTOR_MEMORY_S3_ALLOW_HTTP/,
    );
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
