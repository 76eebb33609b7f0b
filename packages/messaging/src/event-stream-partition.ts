/**
 * What the Redis, NATS and embedded event streams share about topics: the partition of a key
 * and the names they accept. Kafka's adapter partitions through its client.
 */

const STREAM_NAME = /^[A-Za-z0-9._-]{1,200}$/;

/** Throws unless `name` is a valid topic or group name (the port's rule, Kafka's characters). */
export function assertStreamName(kind: "topic" | "group", name: string): void {
  if (!STREAM_NAME.test(name)) {
    throw new Error(`invalid ${kind} name "${name}": letters, digits, ".", "_", "-" (1–200)`);
  }
}

/**
 * The partition of `key`: Kafka's default partitioner (murmur2 of the UTF-8 bytes, sign bit
 * cleared, modulo the partition count), so a key lands on the same partition number on every
 * engine, Kafka included.
 */
export function partitionOf(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, "utf8")) & 0x7fffffff) % partitions;
}

/** Kafka's `Utils.murmur2` (32-bit, seed 0x9747b28c), as a signed 32-bit integer. */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = (0x9747b28c ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k =
      (data[i] ?? 0) |
      ((data[i + 1] ?? 0) << 8) |
      ((data[i + 2] ?? 0) << 16) |
      ((data[i + 3] ?? 0) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= (data[whole + 2] ?? 0) << 16;
    if (rest >= 2) h ^= (data[whole + 1] ?? 0) << 8;
    h ^= data[whole] ?? 0;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
