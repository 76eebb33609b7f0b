import { Socket } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";

/** The most of a refused body read (and dropped) before the connection is cut anyway. */
const LINGER_BYTES = 64 * 1024 * 1024;
/** The longest wait for the rest of a refused body (nginx's lingering_time is 30 s). */
const LINGER_MS = 30_000;

/**
 * Node has no lingering close. Refusing a body it is still receiving (a 413), Fastify answers
 * with `Connection: close` and Node closes the socket as soon as the answer is written: data
 * still arriving then makes the kernel reset the connection, and a client that reads only
 * once it has sent everything (fetch, most HTTP clients) gets ECONNRESET or EPIPE instead of
 * the 413. So the rest of the body is read and dropped — at most LINGER_BYTES, for at most
 * LINGER_MS — on a connection left open; it closes once the body has arrived.
 */
export function lingerOnRefusedBody(request: FastifyRequest, reply: FastifyReply): void {
  const incoming = request.raw;
  const socket = incoming.socket;
  // app.inject's requests have no socket to keep open.
  if (incoming.complete || !(socket instanceof Socket)) return;
  reply.removeHeader("connection");
  let received = 0;
  const cut = () => socket.destroy();
  const timer = setTimeout(cut, LINGER_MS);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
  incoming.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if (received > LINGER_BYTES) cut();
  });
  incoming.once("end", () => {
    clearTimeout(timer);
    // Nothing more is coming: close once the answer is out.
    if (reply.raw.writableFinished) socket.end();
    else reply.raw.once("finish", () => socket.end());
  });
  incoming.resume();
}
