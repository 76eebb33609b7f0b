import type { Writable } from "node:stream";

/** The parts of amqplib's connection (lib/connection.js, lib/mux.js) this relies on. */
interface AmqplibInternals {
  connection?: { stream?: Writable; muxer?: { _readIncoming?: () => void } };
}

const patched = new WeakSet<object>();

/**
 * amqplib's muxer writes each frame it takes from its channels to the socket on its own: one
 * system call per published message and per ack, and as many wake-ups of the broker. Corking
 * the socket around the muxer's write loop sends everything one turn produced in one writev
 * (measured here: less CPU in both the client and RabbitMQ per message). amqplib has no
 * option for it, so this wraps the muxer's loop; if amqplib's internals ever change shape,
 * it leaves the connection as it is.
 */
export function coalesceFrameWrites(model: unknown): boolean {
  const inner = (model as AmqplibInternals | undefined)?.connection;
  const stream = inner?.stream;
  const muxer = inner?.muxer;
  const loop = muxer?._readIncoming;
  if (!stream || !muxer || typeof loop !== "function" || typeof stream.cork !== "function")
    return false;
  if (patched.has(muxer)) return true;
  patched.add(muxer);
  muxer._readIncoming = function readIncomingCorked(this: unknown) {
    stream.cork();
    try {
      loop.call(this);
    } finally {
      stream.uncork();
    }
  };
  return true;
}
