import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.js";
import { isRemoteUri, parseS3Uri, uriScheme } from "../../src/storage-uri.js";
import { probeConditionalPut, probeTarget } from "../../src/store/commit-probe.js";
import { guardStorage, objectStoreReason } from "../../src/store/lance/errors.js";
import { storageOptions } from "../../src/store/lance/tables.js";
import { remoteCommitLock } from "../../src/store/remote-lock.js";
import { signS3Request } from "../../src/store/sigv4.js";
import { type FakeS3, startFakeS3 } from "../support/fake-s3.js";

const keys = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", allowHttp: true };
const servers: FakeS3[] = [];
const fake = async (options: Parameters<typeof startFakeS3>[0] = {}) => {
  const server = await startFakeS3(options);
  servers.push(server);
  return server;
};
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const target = (endpoint: string, extra = {}) => {
  const t = probeTarget("s3://bucket/team/memory", { endpoint, ...keys, ...extra }, {});
  if (!t) throw new Error("no target");
  return t;
};

describe("storage URIs", () => {
  it("tells object-storage URIs from local paths", () => {
    expect(isRemoteUri("s3://b/p")).toBe(true);
    expect(isRemoteUri("s3+ddb://b/p?ddbTableName=t")).toBe(true);
    expect(isRemoteUri("gs://b/p")).toBe(true);
    expect(isRemoteUri("/home/ada/db")).toBe(false);
    expect(isRemoteUri("C:\\Users\\ada\\db")).toBe(false);
    expect(isRemoteUri("file:///home/ada/db")).toBe(false);
    expect(isRemoteUri("s3:relative")).toBe(false);
    expect(uriScheme("S3+DDB://b/p")).toBe("s3+ddb");
    expect(parseS3Uri("s3://bucket/a/b/")).toEqual({ bucket: "bucket", prefix: "a/b" });
    expect(parseS3Uri("s3://bucket")).toEqual({ bucket: "bucket", prefix: "" });
    expect(parseS3Uri("s3+ddb://bucket/a")).toBeUndefined();
  });
});

describe("SigV4", () => {
  it("signs AWS's documented GET Object example exactly", () => {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html (GET Object)
    const headers = signS3Request({
      method: "GET",
      url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
      headers: { Range: "bytes=0-9" },
      body: "",
      region: "us-east-1",
      credentials: {
        accessKeyId: "AKIAIOSFODNN7EXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      },
      now: new Date("2013-05-24T00:00:00Z"),
    });
    expect(headers.authorization).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });
});

describe("the conditional-PUT probe", () => {
  it("passes a store that refuses the second PUT with 412, and removes its probe object", async () => {
    const s3 = await fake({ honours: true });
    await expect(
      probeConditionalPut("s3://bucket/team/memory", target(s3.endpoint)),
    ).resolves.toBeUndefined();
    expect(s3.requests.map((r) => r.method)).toEqual(["PUT", "PUT", "DELETE"]);
    const put = s3.requests[0];
    expect(put?.url).toMatch(/^\/bucket\/team\/memory\/_vector_memory_probe\/[0-9a-f-]{36}$/);
    expect(put?.headers["if-none-match"]).toBe("*");
    expect(put?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//);
  });

  it("refuses a store that ignores If-None-Match, naming the reason and the ways out", async () => {
    const s3 = await fake({ honours: false });
    const probe = probeConditionalPut("s3://bucket/team/memory", target(s3.endpoint));
    await expect(probe).rejects.toThrow(/the store ignores conditional writes/);
    await expect(probe).rejects.toThrow(/s3\+ddb:\/\//);
    await expect(probe).rejects.toThrow(/--s3-unsafe-single-writer/);
    expect(s3.requests.at(-1)?.method).toBe("DELETE");
  });

  it("names refused credentials, an unreachable endpoint, plain HTTP and missing keys", async () => {
    const denied = await fake({ status: 403 });
    await expect(probeConditionalPut("s3://b/p", target(denied.endpoint))).rejects.toThrow(
      /HTTP 403 \(AccessDenied\).*check the access key/,
    );
    const gone = await fake();
    await gone.close();
    await expect(probeConditionalPut("s3://b/p", target(gone.endpoint))).rejects.toThrow(/did not answer/);
    await expect(
      probeConditionalPut("s3://b/p", target(gone.endpoint, { allowHttp: false })),
    ).rejects.toThrow(/plain HTTP; allow it with --s3-allow-http/);
    const noKeys = probeTarget("s3://b/p", { endpoint: "https://s3.example.com" }, {});
    await expect(probeConditionalPut("s3://b/p", noKeys as NonNullable<typeof noKeys>)).rejects.toThrow(
      /no S3 credentials/,
    );
  });

  it("falls back to LanceDB's AWS_* variables for what our options leave unset", () => {
    const t = probeTarget(
      "s3://bucket/p",
      {},
      {
        AWS_ENDPOINT: "http://127.0.0.1:9000",
        AWS_ACCESS_KEY_ID: "k",
        AWS_SECRET_ACCESS_KEY: "s",
        AWS_REGION: "eu-west-1",
        AWS_ALLOW_HTTP: "true",
      },
    );
    expect(t).toMatchObject({ region: "eu-west-1", allowHttp: true, credentials: { accessKeyId: "k" } });
    expect(t?.url.origin).toBe("http://127.0.0.1:9000");
    expect(probeTarget("s3://bucket/p", { region: "us-west-2" }, {})?.url.origin).toBe(
      "https://s3.us-west-2.amazonaws.com",
    );
  });
});

describe("the cross-process lock of a remote store", () => {
  const work = async () => "done";

  it("probes once before the first write, then lets writes through", async () => {
    const s3 = await fake({ honours: true });
    const lock = remoteCommitLock("s3://bucket/p", { endpoint: s3.endpoint, ...keys }, {}, silentLogger);
    expect(await lock("notes", work)).toBe("done");
    expect(await lock("other", work)).toBe("done");
    expect(s3.requests.filter((r) => r.method === "PUT")).toHaveLength(2);
  });

  it("refuses every write on a store that fails the probe, and writes nothing", async () => {
    const s3 = await fake({ honours: false });
    const lock = remoteCommitLock("s3://bucket/p", { endpoint: s3.endpoint, ...keys }, {}, silentLogger);
    let ran = false;
    const write = async () => {
      ran = true;
    };
    await expect(lock("notes", write)).rejects.toThrow(/ignores conditional writes/);
    await expect(lock("notes", write)).rejects.toThrow(/ignores conditional writes/);
    expect(ran).toBe(false);
    expect(s3.requests.filter((r) => r.method === "PUT")).toHaveLength(2);
  });

  it("tries again after the store could not be reached", async () => {
    const s3 = await fake({ honours: true });
    const { endpoint } = s3;
    await s3.close();
    const lock = remoteCommitLock("s3://bucket/p", { endpoint, ...keys }, {}, silentLogger);
    await expect(lock("notes", work)).rejects.toThrow(/did not answer/);
    const back = await fake({ honours: true, port: Number(new URL(endpoint).port) });
    expect(await lock("notes", work)).toBe("done");
    expect(back.requests.map((r) => r.method)).toEqual(["PUT", "PUT", "DELETE"]);
  });

  it("skips the probe with the unsafe single-writer flag, and for s3+ddb:// and other schemes", async () => {
    const s3 = await fake({ honours: false });
    const options = { endpoint: s3.endpoint, ...keys };
    const unsafe = remoteCommitLock("s3://b/p", { ...options, unsafeSingleWriter: true }, {}, silentLogger);
    expect(await unsafe("notes", work)).toBe("done");
    const ddb = remoteCommitLock("s3+ddb://b/p?ddbTableName=t", options, {}, silentLogger);
    expect(await ddb("notes", work)).toBe("done");
    const gcs = remoteCommitLock("gs://b/p", options, {}, silentLogger);
    expect(await gcs("notes", work)).toBe("done");
    expect(s3.requests).toEqual([]);
  });
});

describe("LanceDB storage options", () => {
  it("passes only what was given, in object_store's snake_case, and nothing for a local path", () => {
    expect(storageOptions("/home/ada/db", { endpoint: "http://x" }, {})).toEqual({});
    // Nothing given: empty, so LanceDB's own AWS_* environment variables apply untouched.
    expect(storageOptions("s3://b/p", {}, {})).toEqual({});
    expect(
      storageOptions(
        "s3://b/p",
        {
          endpoint: "http://127.0.0.1:7480",
          region: "eu-west-1",
          accessKeyId: "k",
          secretAccessKey: "s",
          sessionToken: "t",
          allowHttp: true,
        },
        {},
      ),
    ).toEqual({
      aws_endpoint: "http://127.0.0.1:7480",
      aws_region: "eu-west-1",
      aws_access_key_id: "k",
      aws_secret_access_key: "s",
      aws_session_token: "t",
      allow_http: "true",
    });
    // An endpoint without any region: us-east-1 (as the probe signs), unless AWS_REGION says otherwise.
    expect(storageOptions("s3://b/p", { endpoint: "http://x" }, {})).toEqual({
      aws_endpoint: "http://x",
      aws_region: "us-east-1",
    });
    expect(storageOptions("s3://b/p", { endpoint: "http://x" }, { AWS_REGION: "ap-south-1" })).toEqual({
      aws_endpoint: "http://x",
    });
  });
});

describe("storage errors of a remote store", () => {
  it("advise on the object store, not on a local disk", async () => {
    const failing = () =>
      Promise.reject(new Error("Failed to connect to namespace: IO { Generic S3 error }"));
    const remote = guardStorage("s3://b/p", silentLogger, failing);
    await expect(remote).rejects.toThrow(/object store is reachable.*--s3-endpoint/);
    await expect(guardStorage("/tmp/db", silentLogger, failing)).rejects.toThrow(
      /writable directory on a disk/,
    );
  });
});

describe("objectStoreReason", () => {
  const lance = (inner: string) =>
    `Error: Invalid input, Failed to connect to namespace: IO { source: Generic { store: "S3", source: ListRequest { source: RetryError(RetryErrorImpl { method: GET, uri: Some(http://127.0.0.1:7480/b?list-type=2&prefix=p%2F), retries: 0, ${inner} }) } }, location: Location { file: "/x/object_store.rs", line: 905 } }`;
  it("words LanceDB's debug-formatted S3 errors for a person", () => {
    expect(
      objectStoreReason(
        lance(
          'inner: Status { status: 403, body: Some("<Error><Code>SignatureDoesNotMatch</Code></Error>") }',
        ),
      ),
    ).toBe(
      "http://127.0.0.1:7480 answered HTTP 403 (SignatureDoesNotMatch): check the access key, secret and region",
    );
    expect(
      objectStoreReason(lance('inner: Status { status: 404, body: Some("<Code>NoSuchBucket</Code>") }')),
    ).toMatch(/HTTP 404 \(NoSuchBucket\): the bucket does not exist/);
    expect(objectStoreReason(lance("inner: Http { source: error sending request }"))).toBe(
      "http://127.0.0.1:7480 did not answer (is it running, and is the endpoint right?)",
    );
    expect(objectStoreReason("something else entirely")).toBeUndefined();
  });
});
