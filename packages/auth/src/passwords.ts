import argon2 from "argon2";

/** argon2id with the library's defaults (m = 64 MiB, t = 3, p = 4), above OWASP's floor. */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id });
}

/** False for a wrong password or a malformed hash; never throws on user input. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

// A real hash to check against when the email is unknown, so both paths take the same time.
let decoy: Promise<string> | undefined;
export async function burnPasswordCheck(password: string): Promise<false> {
  decoy ??= hashPassword("taskflow-timing-decoy");
  await verifyPassword(await decoy, password);
  return false;
}
