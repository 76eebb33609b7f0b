import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUserRepository } from "../src/modules/users/user.repository.ts";
import { createAccount } from "../src/modules/users/user.service.ts";
import { type AppFixture, openAppFixture, signUp } from "./app-fixture.ts";

// Mixed case on purpose: operator rights follow the email whatever its case.
const OPERATOR_EMAIL = "Ops.Auth@Example.com";

let f: AppFixture | undefined;
beforeAll(async () => {
  f = await openAppFixture({
    loginRateLimitPerMinute: 5,
    adminEmails: [OPERATOR_EMAIL.toLowerCase()],
  });
});
afterAll(async () => {
  await f?.close();
});

const fixture = () => {
  if (!f) throw new Error("PostgreSQL fixture unavailable");
  return f;
};

describe("POST /api/auth/register", () => {
  it("creates an account and never returns the password or its hash", async () => {
    const { app } = fixture();
    const res = await app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { email: "Grace@Example.com", password: "longenough", name: "Grace" },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toEqual({ id: expect.any(String), email: "Grace@Example.com", name: "Grace" });
    expect(res.body).not.toContain("longenough");
    expect(res.body).not.toContain("argon2");
  });

  it("asks for one welcome email in the registration's transaction, and none for a refused one", async () => {
    const { app, database } = fixture();
    const payload = { email: "welcome@example.com", password: "longenough", name: "Wel" };
    const created = await app.inject({ method: "POST", url: "/api/auth/register", payload });
    expect(created.statusCode).toBe(201);
    const again = await app.inject({ method: "POST", url: "/api/auth/register", payload });
    expect(again.statusCode).toBe(409);
    const rows = await database.db
      .selectFrom("outbox")
      .select(["destination", "payload"])
      .where("message_key", "=", created.json<{ id: string }>().id)
      .execute();
    expect(rows).toEqual([
      {
        destination: "job-queue",
        payload: expect.objectContaining({
          name: "email.welcome",
          jobId: `email.welcome.${created.json<{ id: string }>().id}`,
          data: { user_id: created.json<{ id: string }>().id, email: payload.email, name: "Wel" },
        }),
      },
    ]);
  });

  it("refuses a second account for the same email, whatever its case (409)", async () => {
    const { app } = fixture();
    const payload = { email: "dup@example.com", password: "longenough", name: "A" };
    expect(
      (await app.inject({ method: "POST", url: "/api/auth/register", payload })).statusCode,
    ).toBe(201);
    const again = await app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { ...payload, email: "DUP@example.com" },
    });
    expect(again.statusCode).toBe(409);
    expect(again.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });

  it("answers 422 with the field for a password under 8 characters", async () => {
    const res = await fixture().app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { email: "short@example.com", password: "1234567", name: "S" },
    });
    expect(res.statusCode).toBe(422);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.json().errors).toEqual([{ path: "/password", message: expect.any(String) }]);
  });

  it("answers 422 for unknown fields, a bad email and wrong types", async () => {
    const { app } = fixture();
    for (const payload of [
      { email: "x@example.com", password: "longenough", name: "X", admin: true },
      { email: "not-an-email", password: "longenough", name: "X" },
      { email: "x@example.com", password: 12345678, name: "X" },
      { email: "x@example.com", password: "longenough", name: "   " },
    ]) {
      const res = await app.inject({ method: "POST", url: "/api/auth/register", payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(422);
    }
  });

  it("answers 400 for malformed JSON", async () => {
    const res = await fixture().app.inject({
      method: "POST",
      url: "/api/auth/register",
      headers: { "content-type": "application/json" },
      payload: '{"email": "x@example.com",',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().title).toBe("Bad Request");
  });
});

describe("POST /api/auth/login", () => {
  it("returns a bearer token and sets an HttpOnly session cookie", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    const res = await app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { email: user.email.toUpperCase(), password: user.password },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      access_token: expect.any(String),
      token_type: "bearer",
      expires_in: 300,
    });
    const cookie = String(res.headers["set-cookie"]);
    expect(cookie).toMatch(/taskflow_session=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
  });

  it("answers 401 alike for a wrong password and an unknown email", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    const wrong = await app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { email: user.email, password: "nope-nope" },
    });
    const unknown = await app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { email: "ghost@example.com", password: "nope-nope" },
    });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json().detail).toBe(unknown.json().detail);
  });

  it("rate-limits repeated attempts for one email with 429 problem+json", async () => {
    const { app } = fixture();
    const payload = { email: "target@example.com", password: "guess-guess" };
    const codes: number[] = [];
    for (let i = 0; i < 7; i++)
      codes.push(
        (await app.inject({ method: "POST", url: "/api/auth/login", payload })).statusCode,
      );
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes.slice(5)).toEqual([429, 429]);
    const limited = await app.inject({ method: "POST", url: "/api/auth/login", payload });
    expect(limited.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(limited.headers["retry-after"]).toBeDefined();
  });
});

describe("GET /api/auth/me", () => {
  it("answers who the bearer token speaks for", async () => {
    const { app } = fixture();
    const user = await signUp(app, "Linus");
    const res = await app.inject({ method: "GET", url: "/api/auth/me", headers: user.auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: user.id, email: user.email, name: "Linus", operator: false });
  });

  it("says operator: true for an account whose email is in TASKFLOW_ADMIN_EMAILS", async () => {
    const { app, database } = fixture();
    const password = "correct horse battery";
    // Operator accounts are not registered over HTTP (403): the CLI's way.
    const ops = await createAccount(createUserRepository(database.db), {
      email: OPERATOR_EMAIL,
      password,
      name: "Ops",
    });
    const login = await app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { email: OPERATOR_EMAIL, password },
    });
    const res = await app.inject({
      method: "GET",
      url: "/api/auth/me",
      headers: { authorization: `Bearer ${login.json().access_token}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: ops.id, email: OPERATOR_EMAIL, name: "Ops", operator: true });
  });

  it("accepts the session cookie instead of the header", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    const res = await app.inject({
      method: "GET",
      url: "/api/auth/me",
      cookies: { taskflow_session: user.token },
    });
    expect(res.statusCode).toBe(200);
  });

  it("answers 401 without a token, with a forged one, an expired one, or one in the URL", async () => {
    const { app, secret } = fixture();
    const user = await signUp(app);
    const forged = `${user.token.slice(0, -4)}AAAA`;
    const expired = await new SignJWT({ email: user.email, name: "x" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(user.id)
      .setIssuer("taskflow")
      .setAudience("taskflow")
      .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 300)
      .sign(new TextEncoder().encode(secret));
    const otherKey = await new SignJWT({ email: user.email })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(user.id)
      .setIssuer("taskflow")
      .setAudience("taskflow")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("another-secret-another-secret-another"));
    const attempts = [
      {},
      { authorization: `Bearer ${forged}` },
      { authorization: `Bearer ${expired}` },
      { authorization: `Bearer ${otherKey}` },
      { authorization: `Basic ${user.token}` },
    ];
    for (const headers of attempts) {
      const res = await app.inject({ method: "GET", url: "/api/auth/me", headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    }
    const inUrl = await app.inject({
      method: "GET",
      url: `/api/auth/me?access_token=${user.token}`,
    });
    expect(inUrl.statusCode).toBe(401);
  });
});
