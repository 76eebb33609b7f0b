import net from "node:net";

/**
 * - pass: bytes flow both ways;
 * - blackhole: connections stay open, every byte is dropped (a dead peer that never says so);
 * - reset: open connections are reset (RST) and new ones are reset as they come;
 * - latency: bytes flow, each chunk `latencyMs` late.
 */
export type FaultMode = "pass" | "blackhole" | "reset" | "latency";

export interface FaultProxy {
  /** Where clients connect (`127.0.0.1:<port>`). */
  port: number;
  mode(): FaultMode;
  /** Switches every open connection and the next ones. */
  set(mode: FaultMode, latencyMs?: number): void;
  /** Connections open now. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * A TCP proxy between TaskFlow and an engine that injects network faults, switchable while
 * connections are open: the way to blackhole a socket without touching the engine.
 */
export async function startFaultProxy(target: {
  host?: string;
  port: number;
}): Promise<FaultProxy> {
  let mode: FaultMode = "pass";
  let latencyMs = 0;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();

  const forward = (from: net.Socket, to: net.Socket) => {
    from.on("data", (chunk) => {
      if (mode === "blackhole" || mode === "reset") return;
      if (mode === "latency" && latencyMs > 0) {
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
        }, latencyMs);
      } else if (!to.destroyed) {
        to.write(chunk);
      }
    });
  };

  const server = net.createServer((client) => {
    if (mode === "reset") {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: target.host ?? "127.0.0.1", port: target.port });
    const pair = { client, upstream };
    pairs.add(pair);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    port,
    mode: () => mode,
    set(next, ms = 0) {
      mode = next;
      latencyMs = ms;
      if (next === "reset") {
        for (const { client, upstream } of pairs) {
          client.resetAndDestroy();
          upstream.resetAndDestroy();
        }
        pairs.clear();
      }
    },
    connections: () => pairs.size,
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
