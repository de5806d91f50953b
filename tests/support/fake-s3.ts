import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeS3 {
  endpoint: string;
  requests: Array<{ method: string; url: string; headers: IncomingMessage["headers"] }>;
  close(): Promise<void>;
}

/**
 * A tiny S3 stand-in on 127.0.0.1: every PUT is accepted, so with `honours: false` it behaves like
 * a store that ignores `If-None-Match` (as the npm s3rver does); with `honours: true` it refuses
 * the PUT of an existing key with 412. Lists are empty and missing keys 404, enough for LanceDB
 * to open an empty database. `status` answers every request with that status instead.
 */
export async function startFakeS3(
  options: { honours?: boolean; status?: number; port?: number } = {},
): Promise<FakeS3> {
  const objects = new Map<string, Buffer>();
  const requests: FakeS3["requests"] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
      const url = new URL(req.url ?? "/", "http://fake");
      const xml = (status: number, body: string) =>
        res.writeHead(status, { "content-type": "application/xml" }).end(`<?xml version="1.0"?>${body}`);
      if (options.status) return xml(options.status, `<Error><Code>AccessDenied</Code></Error>`);
      if (req.method === "PUT") {
        if (options.honours && req.headers["if-none-match"] === "*" && objects.has(url.pathname))
          return xml(412, "<Error><Code>PreconditionFailed</Code></Error>");
        objects.set(url.pathname, Buffer.concat(chunks));
        return res.writeHead(200, { etag: '"1"' }).end();
      }
      if (req.method === "DELETE") {
        objects.delete(url.pathname);
        return res.writeHead(204).end();
      }
      if (url.searchParams.has("list-type") || url.searchParams.has("prefix"))
        return xml(200, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
      const body = objects.get(url.pathname);
      if (!body) return xml(404, "<Error><Code>NoSuchKey</Code></Error>");
      return res
        .writeHead(200, { "content-length": body.length })
        .end(req.method === "HEAD" ? undefined : body);
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
