import Fastify from "fastify";
import { afterAll, describe, expect, it } from "vitest";
import { countRequests } from "../src/http/request-stats.ts";

// Keep-alive sockets of fetch must not hold up close().
const app = Fastify({ forceCloseConnections: true });
let release: () => void = () => {};
app.get("/ok", async () => ({ ok: true }));
app.get("/boom", async () => {
  throw new Error("a bug");
});
app.get("/slow", () => new Promise((resolve) => (release = () => resolve({ slow: true }))));
const requests = countRequests(app.server);
afterAll(() => app.close());

describe("countRequests (the api role's heartbeat counters)", () => {
  it("counts requests in flight, answered, and answered with a 5xx", async () => {
    const base = await app.listen({ host: "127.0.0.1", port: 0 });
    expect(requests.stats).toEqual({ inFlight: 0, processed: 0, failed: 0 });

    const slow = fetch(`${base}/slow`);
    await expect.poll(() => requests.stats.inFlight).toBe(1);
    expect((await fetch(`${base}/ok`)).status).toBe(200);
    expect((await fetch(`${base}/boom`)).status).toBe(500);
    expect((await fetch(`${base}/missing`)).status).toBe(404);
    await expect.poll(() => requests.stats).toEqual({ inFlight: 1, processed: 3, failed: 1 });

    release();
    expect((await slow).status).toBe(200);
    await expect.poll(() => requests.stats).toEqual({ inFlight: 0, processed: 4, failed: 1 });
  });

  it("counts a request whose client went away as ended", async () => {
    const base = app.server.address();
    if (!base || typeof base === "string") throw new Error("not listening");
    const before = requests.stats;
    const controller = new AbortController();
    const slow = fetch(`http://127.0.0.1:${base.port}/slow`, { signal: controller.signal });
    await expect.poll(() => requests.stats.inFlight).toBe(1);
    controller.abort();
    await expect(slow).rejects.toThrow();
    await expect.poll(() => requests.stats.inFlight).toBe(0);
    expect(requests.stats.processed).toBe(before.processed + 1);
    release();
  });
});
