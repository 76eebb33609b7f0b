import { describe, expect, it } from "vitest";
import { burnPasswordCheck, hashPassword, verifyPassword } from "./passwords.ts";

describe("passwords", () => {
  it("hashes with argon2id at 19 MiB, t = 2, p = 1, salted, and verifies only the right password", async () => {
    const [a, b] = await Promise.all([
      hashPassword("correct horse"),
      hashPassword("correct horse"),
    ]);
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword(a, "correct horse")).toBe(true);
    expect(await verifyPassword(a, "correct horsE")).toBe(false);
  });

  it("still verifies hashes made with other parameters, and never throws on a bad hash", async () => {
    const argon2 = (await import("argon2")).default;
    const old = await argon2.hash("pw-from-before", { type: argon2.argon2id });
    expect(old).toContain("m=65536");
    expect(await verifyPassword(old, "pw-from-before")).toBe(true);
    expect(await verifyPassword("not a hash", "x")).toBe(false);
    expect(await burnPasswordCheck("anything")).toBe(false);
  });
});
