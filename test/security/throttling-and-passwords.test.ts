import { randomBytes } from "node:crypto";
import { createAccount, createUserRepository } from "@taskflow/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Answer,
  call,
  enginesAvailable,
  type SecuritySystem,
  startSecuritySystem,
} from "./security-fixture.ts";

/**
 * Guessing is throttled: logins per email and per client address, registrations per client
 * address, each answered 429 problem+json with Retry-After once over; the counters are the
 * real ones, in Redis. Passwords are stored as argon2id with at least OWASP's parameters
 * (m = 19 MiB, t = 2, p = 1), read from the stored hash itself.
 */

const engines = await enginesAvailable();

const PER_EMAIL = 3;
const PER_ADDRESS = 6;

let system: SecuritySystem | undefined;
beforeAll(async () => {
  if (!engines) return;
  // Behind nginx (trusted X-Forwarded-For): each test speaks from an address of its own.
  system = await startSecuritySystem({
    operators: 1,
    loginRateLimitPerMinute: PER_EMAIL,
    loginRateLimitPerAddressPerMinute: PER_ADDRESS,
    trustProxy: true,
  });
});
afterAll(() => system?.close());

const fixture = () => {
  if (!system) throw new Error("the system under attack did not start");
  return system;
};

let addresses = 0;
/** A client address no other test uses (TEST-NET-2). */
const newAddress = () => `198.51.100.${++addresses}`;
const unique = () => randomBytes(5).toString("hex");

const login = (address: string, email: string, password: string) =>
  call(fixture().base, "POST", "/api/auth/login", {
    headers: { "x-forwarded-for": address },
    body: { email, password },
  });
const register = (address: string, email = `reg-${unique()}@example.com`) =>
  call(fixture().base, "POST", "/api/auth/register", {
    headers: { "x-forwarded-for": address },
    body: { email, password: "correct horse battery", name: "Reg" },
  });

function expectThrottled(answer: Answer) {
  expect(answer.status, answer.text).toBe(429);
  expect(answer.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect((answer.body as { status?: number }).status).toBe(429);
  const retryAfter = Number(answer.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

describe.skipIf(!engines)("throttling", () => {
  it("logins per email: over the limit, 429 with Retry-After, even with the right password, from anywhere", async () => {
    const address = newAddress();
    const email = `victim-${unique()}@example.com`;
    expect((await register(address, email)).status).toBe(201);
    const statuses: number[] = [];
    for (let i = 0; i < PER_EMAIL; i++)
      statuses.push((await login(newAddress(), email, `guess-${i}-guess`)).status);
    expect(statuses).toEqual(Array(PER_EMAIL).fill(401));
    expectThrottled(await login(newAddress(), email, "correct horse battery"));
    // The email's budget, not the address's: other accounts still log in from there.
    const other = `other-${unique()}@example.com`;
    expect((await register(address, other)).status).toBe(201);
    expect((await login(address, other, "correct horse battery")).status).toBe(200);
  });

  it("logins per client address: spraying many emails from one address is throttled too", async () => {
    const address = newAddress();
    const statuses: number[] = [];
    for (let i = 0; i < PER_ADDRESS; i++)
      statuses.push((await login(address, `spray-${unique()}@example.com`, "guess-guess")).status);
    expect(statuses).toEqual(Array(PER_ADDRESS).fill(401));
    expectThrottled(await login(address, `spray-${unique()}@example.com`, "guess-guess"));
    expect((await login(newAddress(), `spray-${unique()}@example.com`, "guess-guess")).status).toBe(
      401,
    );
  });

  it("registrations per client address: account farming is throttled, other addresses unaffected", async () => {
    const address = newAddress();
    const statuses: number[] = [];
    for (let i = 0; i < PER_ADDRESS; i++) statuses.push((await register(address)).status);
    expect(statuses).toEqual(Array(PER_ADDRESS).fill(201));
    const refused = await register(address);
    expectThrottled(refused);
    expect((await register(newAddress())).status).toBe(201);
  });
});

describe.skipIf(!engines)("password hashing", () => {
  /** argon2's PHC string: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> */
  function parameters(hash: string) {
    const match =
      /^\$(argon2(?:id|i|d))\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(
        hash,
      );
    if (!match) throw new Error(`not an argon2 PHC string: ${hash.slice(0, 40)}…`);
    const [, variant, version, m, t, p, salt = "", digest = ""] = match;
    return {
      variant,
      version: Number(version),
      memoryKiB: Number(m),
      iterations: Number(t),
      parallelism: Number(p),
      saltBytes: Buffer.from(salt, "base64").length,
      hashBytes: Buffer.from(digest, "base64").length,
    };
  }

  async function storedHash(email: string) {
    const row = await fixture()
      .database.db.selectFrom("users")
      .select("password_hash")
      .where("email", "=", email)
      .executeTakeFirstOrThrow();
    return row.password_hash;
  }

  function expectOwaspArgon2id(hash: string) {
    const p = parameters(hash);
    expect(p.variant).toBe("argon2id");
    expect(p.version).toBe(19);
    expect(p.memoryKiB).toBeGreaterThanOrEqual(19 * 1024);
    expect(p.iterations).toBeGreaterThanOrEqual(2);
    expect(p.parallelism).toBeGreaterThanOrEqual(1);
    expect(p.saltBytes).toBeGreaterThanOrEqual(16);
    expect(p.hashBytes).toBeGreaterThanOrEqual(32);
  }

  it("a registered user's password is stored as argon2id with m ≥ 19 MiB, t ≥ 2, p ≥ 1, and a salt of its own", async () => {
    const email = `hash-${unique()}@example.com`;
    const twin = `hash-${unique()}@example.com`;
    expect((await register(newAddress(), email)).status).toBe(201);
    expect((await register(newAddress(), twin)).status).toBe(201);
    const hash = await storedHash(email);
    expectOwaspArgon2id(hash);
    expect(hash).not.toContain("correct horse");
    // The same password twice: two salts, two hashes.
    expect(await storedHash(twin)).not.toBe(hash);
  });

  it("an operator's account made on the server (`taskflow user create`) is hashed alike", async () => {
    const email = `ops-${unique()}@example.com`;
    await createAccount(createUserRepository(fixture().database.db), {
      email,
      name: "Ops",
      password: "another long password",
    });
    expectOwaspArgon2id(await storedHash(email));
  });
});
