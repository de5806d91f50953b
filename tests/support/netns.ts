import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";

/**
 * Stand-ins for separate machines: Linux network namespaces joined by veth pairs to one bridge on
 * this host. A process started in a namespace has its own loopback and reaches the host only at
 * the bridge's address, as another host on the LAN would. Needs root (CAP_NET_ADMIN) and `ip`.
 */
export interface Machines {
  /** The namespace names, one per machine. */
  names: string[];
  /** The host's address on the bridge, where the machines reach it. */
  hostAddress: string;
  /** A TCP relay on the host's bridge address to `target` ("host:port"); returns its port. */
  relay(target: string): Promise<Relay>;
  remove(): void;
}

export interface Relay {
  port: number;
  /** Refuses (closes) connections until `resume`, and cuts the open ones: the store is gone. */
  pause(): void;
  resume(): void;
  /** HTTP requests sent through so far, by method (request lines seen in the client's bytes). */
  requests: Map<string, number>;
  close(): Promise<void>;
}

const REQUEST_LINE = /(?:^|\r\n)(GET|PUT|POST|HEAD|DELETE) \/\S* HTTP\/1\.1\r\n/g;

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });

/** Why namespaces cannot be made here, or undefined when they can (tries one). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "network namespaces need root (ip netns add)";
  const probe = `vmmprobe${randomBytes(3).toString("hex")}`;
  try {
    ip("netns", "add", probe);
    ip("netns", "del", probe);
    return undefined;
  } catch (error) {
    return `ip netns add failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
}

export function makeMachines(count: number): Machines {
  const tag = randomBytes(3).toString("hex");
  const subnet = `10.${200 + ((randomBytes(1)[0] as number) % 50)}.${randomBytes(1)[0] as number}`;
  const bridge = `vmb${tag}`;
  const names: string[] = [];
  const remove = () => {
    for (const name of names) execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
    try {
      ip("link", "del", bridge);
    } catch {
      // Not made.
    }
  };
  try {
    ip("link", "add", bridge, "type", "bridge");
    ip("addr", "add", `${subnet}.1/24`, "dev", bridge);
    ip("link", "set", bridge, "up");
    for (let i = 0; i < count; i++) {
      const name = `vmm${tag}m${i}`;
      ip("netns", "add", name);
      names.push(name);
      const [host, inside] = [`vh${tag}${i}`, `vn${tag}${i}`];
      ip("link", "add", host, "type", "veth", "peer", "name", inside);
      ip("link", "set", host, "master", bridge, "up");
      ip("link", "set", inside, "netns", name);
      ip("-n", name, "addr", "add", `${subnet}.${i + 2}/24`, "dev", inside);
      ip("-n", name, "link", "set", inside, "up");
      ip("-n", name, "link", "set", "lo", "up");
    }
  } catch (error) {
    remove();
    throw error;
  }
  const hostAddress = `${subnet}.1`;
  return {
    names,
    hostAddress,
    relay: (target) => startRelay(hostAddress, target),
    remove,
  };
}

/** A TCP relay on `address` (port chosen) to `target`, which a test can pause as if the store were down. */
export async function startRelay(address: string, target: string): Promise<Relay> {
  const url = new URL(target.includes("://") ? target : `tcp://${target}`);
  let paused = false;
  const open = new Set<net.Socket>();
  const requests = new Map<string, number>();
  const server = net.createServer((client) => {
    if (paused) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true });
    client.setNoDelay(true);
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.on("data", (chunk: Buffer) => {
      // Request lines start a message; a body (LanceDB's binary files) practically never has one.
      for (const match of chunk.toString("latin1").matchAll(REQUEST_LINE))
        requests.set(match[1] as string, (requests.get(match[1] as string) ?? 0) + 1);
    });
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    pause() {
      paused = true;
      for (const socket of open) socket.destroy();
      open.clear();
    },
    resume() {
      paused = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
