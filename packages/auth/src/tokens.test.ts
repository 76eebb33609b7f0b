import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { AuthError, createTokenService } from "./tokens.ts";

const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
const ADA = { id: "0190a000-0000-7000-8000-000000000001", email: "ada@example.com", name: "Ada" };

function clock(startMs = Date.UTC(2026, 10, 23, 12)) {
  let t = startMs;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("access tokens", () => {
  it("verifies a token it issued, again and again, as the same user", async () => {
    const tokens = createTokenService({ secret: SECRET, ttlSeconds: 60 });
    const { access_token, token_type, expires_in } = await tokens.issue(ADA);
    expect({ token_type, expires_in }).toEqual({ token_type: "bearer", expires_in: 60 });
    expect(await tokens.verify(access_token)).toEqual(ADA);
    expect(await tokens.verify(access_token)).toEqual(ADA);
  });

  it("refuses a token once it has expired, even after it was verified (and remembered)", async () => {
    const time = clock();
    const tokens = createTokenService({ secret: SECRET, ttlSeconds: 60, now: time.now });
    const { access_token } = await tokens.issue(ADA);
    expect(await tokens.verify(access_token)).toEqual(ADA);
    time.advance(59_000);
    expect(await tokens.verify(access_token)).toEqual(ADA);
    time.advance(1_000);
    await expect(tokens.verify(access_token)).rejects.toThrow("token expired");
    await expect(tokens.verify(access_token)).rejects.toThrow("token expired");
  });

  it("refuses a token signed with another secret, a tampered one, and garbage", async () => {
    const tokens = createTokenService({ secret: SECRET, ttlSeconds: 60 });
    const other = createTokenService({ secret: `${SECRET}-other`, ttlSeconds: 60 });
    const forged = (await other.issue(ADA)).access_token;
    const genuine = (await tokens.issue(ADA)).access_token;
    await tokens.verify(genuine); // remembered: tampering must not ride on that
    const [header, payload, signature] = genuine.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: "someone-else" })).toString("base64url")}.${signature}`;
    for (const token of [forged, tampered, "not-a-token", ""]) {
      const error = await tokens.verify(token).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).statusCode).toBe(401);
    }
  });

  it("keeps the kinds apart: a service's token is refused where users' are taken, before and after it was remembered", async () => {
    const tokens = createTokenService({ secret: SECRET, ttlSeconds: 60 });
    const service = (await tokens.issueService("api")).access_token;
    const user = (await tokens.issue(ADA)).access_token;
    await expect(tokens.verify(service)).rejects.toThrow("invalid token");
    expect(await tokens.verify(service, ["user", "service"])).toEqual({
      id: "service:api",
      email: "api@services.taskflow.internal",
      name: "api",
    });
    // Remembered now: the cache must still answer by kind.
    await expect(tokens.verify(service)).rejects.toThrow("invalid token");
    await expect(tokens.verify(service, ["user"])).rejects.toThrow("invalid token");
    expect(await tokens.verify(user, ["user", "service"])).toEqual(ADA);
    expect(await tokens.verify(user)).toEqual(ADA);
    await expect(tokens.verify(user, ["service"])).rejects.toThrow("invalid token");
  });

  it("refuses a token meant for several audiences, even signed with the real secret", async () => {
    const tokens = createTokenService({ secret: SECRET, ttlSeconds: 60 });
    const both = await new SignJWT({ email: ADA.email, name: ADA.name })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(ADA.id)
      .setIssuer("taskflow")
      .setAudience(["taskflow", "taskflow:service"])
      .setIssuedAt()
      .setExpirationTime("1m")
      .sign(new TextEncoder().encode(SECRET));
    await expect(tokens.verify(both)).rejects.toThrow("invalid token");
  });

  it("refuses to start with a secret under 32 characters", () => {
    expect(() => createTokenService({ secret: "short", ttlSeconds: 60 })).toThrow(/32 characters/);
  });
});
