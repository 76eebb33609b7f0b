import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import { create, type DescMessage, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { createTokenService } from "@taskflow/auth";
import {
  CatalogService,
  OrderValidationService,
  ValidateOrderRequestSchema,
} from "@taskflow/contracts";
import {
  type ChildEnv,
  createTestDatabase,
  engineAvailable,
  killAllRoles,
  type RoleProcess,
  runMigrations,
  startRole,
  type TestDatabase,
} from "@taskflow/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fuzzSettings } from "./report.ts";

/**
 * The validator's gRPC port (`taskflow validator`, a process on a database of the run's own),
 * fed what no well-behaved client sends: messages over the 1 MiB maximum, garbage bytes,
 * broken length prefixes, compression flags without compression, wrong content types and
 * paths, hostile metadata — through grpc-js (which frames whatever bytes it is given) and a
 * raw HTTP/2 session (which frames nothing). Every call must end with a gRPC status (or, for
 * a request that is not gRPC at all, an HTTP answer), and the validator must still serve.
 */

const settings = fuzzSettings(600, "TASKFLOW_FUZZ_GRPC_CALLS");
const available = await engineAvailable("postgres");

/** The validator's limit (MAX_MESSAGE_BYTES in services/validator/src/server.ts). */
const MAX_MESSAGE_BYTES = 1024 * 1024;

const HEALTH_CHECK = "/grpc.health.v1.Health/Check";

interface Method {
  path: string;
  streaming: boolean;
  input: DescMessage;
}

/** Every method of the validator's own services, from their descriptors. */
const methods: Method[] = [OrderValidationService, CatalogService].flatMap((service) =>
  service.methods.map((method) => ({
    path: `/${service.typeName}/${method.name}`,
    streaming: method.methodKind !== "unary",
    input: method.input,
  })),
);

/** One length-prefixed gRPC message: flag byte, 4-byte big-endian length, bytes. */
function frame(message: Uint8Array, options: { flag?: number; declaredLength?: number } = {}) {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(options.flag ?? 0, 0);
  prefix.writeUInt32BE(options.declaredLength ?? message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** A valid order request's bytes, to cut, flip and pad. */
const validOrder = toBinary(
  ValidateOrderRequestSchema,
  create(ValidateOrderRequestSchema, {
    order: { items: [{ sku: "KB-101", quantity: 1 }], note: "fuzz" },
  }),
);

/** Message bodies: garbage, a valid message mangled, empty, or over the maximum. */
const messageBytes: fc.Arbitrary<{ kind: string; bytes: Uint8Array }> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.uint8Array({ maxLength: 2048 }).map((bytes) => ({ kind: "garbage", bytes })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.nat({ max: validOrder.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.boolean())
      .map(([at, value, cut]) => {
        const bytes = Uint8Array.from(validOrder);
        if (cut) return { kind: "truncated", bytes: bytes.subarray(0, at) };
        bytes[at] = value;
        return { kind: "flipped", bytes };
      }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "empty", bytes: new Uint8Array() }) },
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: 1, max: 3 * MAX_MESSAGE_BYTES })
      .map((extra) => ({ kind: "oversized", bytes: new Uint8Array(MAX_MESSAGE_BYTES + extra) })),
  },
);

type Auth = "token" | "none" | "garbage" | "huge";

const auth: fc.Arbitrary<Auth> = fc.constantFrom<Auth>("token", "token", "none", "garbage", "huge");

/** What a call ended with. */
interface Outcome {
  /** A gRPC status code, or -1 for none. */
  code: number;
  /** The HTTP status of a raw call's answer (0 if none came). */
  httpStatus?: number;
  details: string;
}

describe.skipIf(!available)("the validator's gRPC port, fuzzed", () => {
  let database: TestDatabase;
  let validator: RoleProcess;
  let token: string;
  let exited = false;

  beforeAll(async () => {
    database = await createTestDatabase("taskflow_fuzz_grpc");
    const secret = randomBytes(32).toString("base64url");
    const env: ChildEnv = {
      TASKFLOW_DATABASE_URL: database.url,
      TASKFLOW_JWT_SECRET: secret,
      TASKFLOW_LOG_LEVEL: "warn",
    };
    await runMigrations(env);
    validator = await startRole("validator", env, { readyTimeoutMs: 120_000 });
    void validator.exited.then(() => {
      exited = true;
    });
    const tokens = createTokenService({ secret, ttlSeconds: 3_600 });
    token = (
      await tokens.issue({
        id: "0190a000-0000-7000-8000-0000000f0220",
        email: "fuzz@example.com",
        name: "Fuzz",
      })
    ).access_token;
  }, 300_000);

  afterAll(async () => {
    await validator?.stop().catch(() => {});
    await killAllRoles();
    await database?.drop();
  }, 60_000);

  const authorization = (which: Auth): string | undefined =>
    which === "token"
      ? `Bearer ${token}`
      : which === "garbage"
        ? "Bearer not.a.token"
        : which === "huge"
          ? `Bearer ${"a".repeat(20_000)}`
          : undefined;

  /** A call through grpc-js, the bytes given framed as they are (no size check on our side). */
  function grpcJsCall(
    client: grpc.Client,
    method: Method,
    bytes: Uint8Array,
    who: Auth,
  ): Promise<Outcome> {
    const metadata = new grpc.Metadata();
    const header = authorization(who);
    if (header) metadata.set("authorization", header);
    const identity = (b: Buffer) => b;
    const deadline = Date.now() + 20_000;
    return new Promise((resolve) => {
      const done = (error: grpc.ServiceError | null) =>
        resolve({ code: error ? error.code : grpc.status.OK, details: error?.details ?? "" });
      if (!method.streaming) {
        client.makeUnaryRequest(
          method.path,
          identity,
          identity,
          Buffer.from(bytes),
          metadata,
          { deadline },
          (error) => done(error),
        );
        return;
      }
      const call = client.makeBidiStreamRequest(method.path, identity, identity, metadata, {
        deadline,
      });
      call.on("data", () => {});
      call.on("error", (error: grpc.ServiceError) => done(error));
      call.on("status", (status: grpc.StatusObject) => {
        if (status.code === grpc.status.OK) done(null);
      });
      call.write(Buffer.from(bytes));
      call.end();
    });
  }

  /** A raw HTTP/2 stream: the headers and bytes exactly as given; what came back. */
  function rawCall(headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<Outcome> {
    return new Promise((resolve) => {
      const session = http2.connect(`http://${validator.address}`);
      let settled = false;
      let httpStatus = 0;
      let headerStatus: string | undefined;
      let headerMessage = "";
      const finish = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        session.destroy();
        resolve(outcome);
      };
      const timer = setTimeout(
        () => finish({ code: -1, httpStatus, details: "no answer within 20 s" }),
        20_000,
      );
      session.on("error", (error) =>
        finish({ code: -1, httpStatus, details: `session: ${String(error)}` }),
      );
      const stream = session.request(headers, { endStream: false });
      stream.on("response", (response) => {
        httpStatus = Number(response[":status"] ?? 0);
        const status = response["grpc-status"];
        if (status !== undefined) headerStatus = String(status);
        headerMessage = String(response["grpc-message"] ?? "");
      });
      stream.on("trailers", (trailers) => {
        const status = trailers["grpc-status"];
        finish({
          code: Number(status ?? -1),
          httpStatus,
          details: String(trailers["grpc-message"] ?? ""),
        });
      });
      stream.on("data", () => {});
      stream.on("error", (error) =>
        finish({ code: -1, httpStatus, details: `stream: ${String(error)}` }),
      );
      stream.on("close", () => {
        // A trailers-only answer carries its status in the headers.
        if (headerStatus !== undefined)
          finish({
            code: Number(headerStatus),
            httpStatus,
            details: decodeURIComponent(headerMessage),
          });
        else finish({ code: -1, httpStatus, details: `closed with RST code ${stream.rstCode}` });
      });
      stream.end(body);
    });
  }

  it(`when ${settings.runs} malformed and oversized calls reach it through grpc-js and raw HTTP/2, then every one ends with a gRPC status and it still serves`, async () => {
    const client = new grpc.Client(validator.address, grpc.credentials.createInsecure(), {
      "grpc.max_send_message_length": -1,
      "grpc.max_receive_message_length": -1,
    });
    const findings: string[] = [];
    const tally = new Map<string, number>();
    const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);

    const grpcJsCase = fc.record({
      method: fc.constantFrom(...methods),
      message: messageBytes,
      auth,
    });
    const rawCase = fc.record({
      path: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...methods.map((m) => m.path), HEALTH_CHECK) },
        {
          weight: 1,
          arbitrary: fc.constantFrom("/", "/taskflow.orders.v1.Nope/Nothing", "/%00", "/a/b/c"),
        },
      ),
      contentType: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom("application/grpc", "application/grpc+proto") },
        {
          weight: 1,
          arbitrary: fc.constantFrom("application/json", "text/plain", "application/grpc+json"),
        },
      ),
      encoding: fc.constantFrom(undefined, undefined, undefined, "gzip", "snappy"),
      auth,
      body: fc.oneof(
        // A prefix that promises more than the maximum (up to 4 GiB), then little.
        fc
          .tuple(
            fc.integer({ min: MAX_MESSAGE_BYTES + 1, max: 0xffffffff }),
            fc.uint8Array({ maxLength: 64 }),
          )
          .map(([declaredLength, bytes]) => ({
            kind: "declared-oversized",
            data: frame(bytes, { declaredLength }),
          })),
        // A prefix that promises more than comes.
        fc
          .tuple(fc.integer({ min: 1, max: 4096 }), fc.uint8Array({ maxLength: 64 }))
          .map(([more, bytes]) => ({
            kind: "short",
            data: frame(bytes, { declaredLength: bytes.length + more }),
          })),
        // Compressed flag (no or unknown compression), or a flag gRPC does not define.
        fc
          .tuple(fc.integer({ min: 1, max: 255 }), messageBytes)
          .filter(([, m]) => m.kind !== "oversized")
          .map(([flag, m]) => ({
            kind: `flag-${flag === 1 ? "compressed" : "invalid"}`,
            data: frame(m.bytes, { flag }),
          })),
        // A broken prefix: fewer than five bytes.
        fc
          .uint8Array({ minLength: 1, maxLength: 4 })
          .map((data) => ({ kind: "cut-prefix", data: Buffer.from(data) })),
        // Bytes with no framing at all, and two messages where one is due.
        fc
          .uint8Array({ maxLength: 4096 })
          .map((data) => ({ kind: "unframed", data: Buffer.from(data) })),
        messageBytes
          .filter((m) => m.kind !== "oversized")
          .map((m) => ({
            kind: "two-messages",
            data: Buffer.concat([frame(m.bytes), frame(validOrder)]),
          })),
        // A well-framed message over the maximum.
        fc.integer({ min: 1, max: MAX_MESSAGE_BYTES }).map((extra) => ({
          kind: "framed-oversized",
          data: frame(new Uint8Array(MAX_MESSAGE_BYTES + extra)),
        })),
      ),
    });

    const grpcJsRuns = Math.ceil(settings.runs / 2);
    const grpcJsCases = fc.sample(grpcJsCase, { seed: settings.seed, numRuns: grpcJsRuns });
    const rawCases = fc.sample(rawCase, {
      seed: settings.seed + 1,
      numRuns: settings.runs - grpcJsRuns,
    });

    const lanes = <T>(items: T[], work: (item: T, index: number) => Promise<void>) => {
      let next = 0;
      return Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < items.length) {
            const index = next++;
            await work(items[index] as T, index);
          }
        }),
      );
    };

    await lanes(grpcJsCases, async (c, index) => {
      const outcome = await grpcJsCall(client, c.method, c.message.bytes, c.auth);
      count(`grpc-js ${c.message.kind}: ${grpc.status[outcome.code] ?? outcome.code}`);
      const describe = () =>
        `grpc-js #${index} ${c.method.path} ${c.message.kind} (${c.message.bytes.length} B, auth ${c.auth}) → ${grpc.status[outcome.code]} ${outcome.details}`;
      // Streaming methods authenticate before they read: without a valid token, that answer.
      const refusedFirst = c.auth !== "token" && outcome.code === grpc.status.UNAUTHENTICATED;
      if (
        c.message.kind === "oversized" &&
        outcome.code !== grpc.status.RESOURCE_EXHAUSTED &&
        !refusedFirst
      )
        findings.push(`a message over the maximum was not RESOURCE_EXHAUSTED: ${describe()}`);
      // The server went away, or the client could not frame it: not an answer.
      if (outcome.code === grpc.status.UNAVAILABLE || outcome.code === grpc.status.UNKNOWN)
        findings.push(`no gRPC status from the validator: ${describe()}`);
    });

    await lanes(rawCases, async (c, index) => {
      const header = authorization(c.auth);
      const outcome = await rawCall(
        {
          ":method": "POST",
          ":path": c.path,
          "content-type": c.contentType,
          te: "trailers",
          ...(c.encoding ? { "grpc-encoding": c.encoding } : {}),
          ...(header ? { authorization: header } : {}),
        },
        c.body.data,
      );
      const grpcContent = c.contentType.startsWith("application/grpc");
      count(
        `raw ${c.body.kind}${grpcContent ? "" : ` (${c.contentType})`}: ${outcome.code >= 0 ? grpc.status[outcome.code] : `HTTP ${outcome.httpStatus}`} ${outcome.details.replace(/\d+/g, "N").slice(0, 60)}`,
      );
      const describe = () =>
        `raw #${index} ${c.path} ${c.contentType}${c.encoding ? ` grpc-encoding ${c.encoding}` : ""} ${c.body.kind} (${c.body.data.length} B, auth ${c.auth}) → HTTP ${outcome.httpStatus}, grpc-status ${outcome.code} ${outcome.details}`;
      // Not gRPC at all: an HTTP answer (415) is the answer gRPC prescribes.
      const httpStatus = outcome.httpStatus ?? 0;
      const answered = outcome.code >= 0 || (!grpcContent && httpStatus >= 400 && httpStatus < 500);
      if (!answered) findings.push(`no gRPC status: ${describe()}`);
      if (httpStatus >= 500) findings.push(`an HTTP ${httpStatus}: ${describe()}`);
      if (
        grpcContent &&
        c.body.kind.endsWith("oversized") &&
        methods.some((m) => m.path === c.path) &&
        outcome.code !== grpc.status.RESOURCE_EXHAUSTED &&
        !(c.auth !== "token" && outcome.code === grpc.status.UNAUTHENTICATED) &&
        // An encoding the server does not know is refused before any message is read.
        !(c.encoding === "snappy" && outcome.code === grpc.status.UNIMPLEMENTED)
      )
        findings.push(`a message over the maximum was not RESOURCE_EXHAUSTED: ${describe()}`);
    });

    // Still serving: health says SERVING, and a valid order is priced.
    const health = await rawCall(
      {
        ":method": "POST",
        ":path": HEALTH_CHECK,
        "content-type": "application/grpc",
        te: "trailers",
      },
      frame(new Uint8Array()),
    );
    const priced = await grpcJsCall(client, methods[0] as Method, validOrder, "token");
    client.close();

    const table = [...tally.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    console.log(
      [
        "",
        `validator gRPC fuzzing: ${settings.runs} calls (${grpcJsRuns} through grpc-js, ${settings.runs - grpcJsRuns} raw HTTP/2) — seed ${settings.seed}`,
        ...table.map(([key, n]) => `  ${String(n).padStart(5)}  ${key}`),
        `  findings: ${findings.length}`,
        ...findings.slice(0, 30).map((f) => `  ✗ ${f}`),
      ].join("\n"),
    );
    if (findings.length > 0 || exited) console.log(validator.output().slice(-4_000));
    expect(exited, "the validator exited").toBe(false);
    expect(health.code, `health afterwards: ${health.details}`).toBe(grpc.status.OK);
    expect(priced.code, `a valid order afterwards: ${priced.details}`).toBe(grpc.status.OK);
    expect(findings).toEqual([]);
  }, 300_000);
});
