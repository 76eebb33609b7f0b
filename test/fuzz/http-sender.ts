import http from "node:http";

/**
 * One request with node:http, as bytes the fuzzer chose: latin1 request line and headers
 * (raw bytes ≥ 0x80 reach the server), any body, chunked or not. Every outcome is an answer —
 * a status, or the network error that came instead of one.
 */

export interface Answer {
  /** 0 when no answer came (`error` says why). */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The answer was an event stream: its first bytes only, then the request was cut. */
  stream?: boolean;
  error?: string;
}

export interface Endpoint {
  host: string;
  port: number;
  agent: http.Agent;
}

export function endpoint(url: string, maxSockets = 8): Endpoint {
  const { hostname, port } = new URL(url);
  return {
    host: hostname,
    port: Number(port),
    agent: new http.Agent({ keepAlive: true, maxSockets }),
  };
}

export interface RawRequest {
  method: string;
  /** Path and query, latin1. */
  path: string;
  headers: [string, string][];
  body?: Buffer;
  chunked?: boolean;
}

const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/**
 * Sends `request`; resolves with the answer, or with status 0 and the error. A request that
 * failed on a kept-alive connection the server had just closed (a race every HTTP client
 * meets) is sent again once, on a connection of its own.
 */
export async function send(to: Endpoint, request: RawRequest, timeoutMs = 30_000): Promise<Answer> {
  const first = await sendOnce(to, request, timeoutMs, true);
  if (first.status !== 0 || !first.reusedSocket) return first;
  return sendOnce(to, request, timeoutMs, false);
}

function sendOnce(
  to: Endpoint,
  request: RawRequest,
  timeoutMs: number,
  keepAlive: boolean,
): Promise<Answer & { reusedSocket?: boolean }> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (answer: Answer & { reusedSocket?: boolean }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const headers: string[] = request.headers.flat();
    // Given as an array, headers are sent exactly as listed: Host too must be listed.
    if (!request.headers.some(([name]) => name.toLowerCase() === "host"))
      headers.unshift("host", `${to.host}:${to.port}`);
    if (request.body && !request.chunked)
      headers.push("content-length", String(request.body.length));
    // Node frames a body in chunks by itself only for methods that usually have one.
    if (request.body && request.chunked) headers.push("transfer-encoding", "chunked");
    let outgoing: http.ClientRequest;
    try {
      outgoing = http.request({
        host: to.host,
        port: to.port,
        agent: keepAlive ? to.agent : false,
        method: request.method,
        path: request.path,
        headers,
      });
    } catch (error) {
      // Node itself refused to send it: the generator made something unsendable.
      settle({
        status: 0,
        headers: {},
        body: Buffer.alloc(0),
        error: `not sent: ${String(error)}`,
      });
      return;
    }
    const timer = setTimeout(() => {
      settle({
        status: 0,
        headers: {},
        body: Buffer.alloc(0),
        error: `no answer within ${timeoutMs} ms`,
      });
      outgoing.destroy();
    }, timeoutMs);
    // An error after the answer began (the server closed while the body was still going out,
    // as it may after refusing it) changes nothing: the answer is what counts.
    let partial: ((error: string) => void) | undefined;
    outgoing.on("error", (error) => {
      if (partial) partial(String(error));
      else
        settle({
          status: 0,
          headers: {},
          body: Buffer.alloc(0),
          error: String(error),
          reusedSocket: outgoing.reusedSocket,
        });
    });
    outgoing.on("response", (response) => {
      const status = response.statusCode ?? 0;
      if (String(response.headers["content-type"] ?? "").startsWith("text/event-stream")) {
        settle({ status, headers: response.headers, body: Buffer.alloc(0), stream: true });
        outgoing.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
      });
      response.on("error", () => {});
      partial = () => settle({ status, headers: response.headers, body: Buffer.concat(chunks) });
      response.once("end", () =>
        settle({ status, headers: response.headers, body: Buffer.concat(chunks) }),
      );
      response.once("close", () =>
        settle({ status, headers: response.headers, body: Buffer.concat(chunks) }),
      );
    });
    if (request.body && request.chunked) {
      // A few chunks, so the server meets the size as it reads.
      const step = Math.max(1, Math.ceil(request.body.length / 8));
      for (let at = 0; at < request.body.length; at += step) {
        outgoing.write(request.body.subarray(at, at + step));
      }
      outgoing.end();
    } else {
      outgoing.end(request.body);
    }
  });
}
