import argon2 from "argon2";

/**
 * argon2id at OWASP's recommended m = 19 MiB, t = 2, p = 1. Not the library's default of
 * 64 MiB: every hash in progress holds its memory, and a burst of logins (four at once on
 * libuv's threads) would take a process far past its memory budget. Hashes made with other
 * parameters still verify: each hash names its own.
 */
export const PASSWORD_HASH_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 19 * 1024,
  timeCost: 2,
  parallelism: 1,
} as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, PASSWORD_HASH_OPTIONS);
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
