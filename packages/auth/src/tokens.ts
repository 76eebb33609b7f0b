import { errors, jwtVerify, SignJWT } from "jose";

/** Who a verified access token speaks for. */
export interface AuthUser {
  id: string;
  email: string;
  name: string;
}

export interface IssuedToken {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
}

export interface TokenService {
  issue(user: AuthUser): Promise<IssuedToken>;
  /** Resolves the user, or rejects with an AuthError (expired, forged, malformed). */
  verify(token: string): Promise<AuthUser>;
  readonly ttlSeconds: number;
}

export class AuthError extends Error {
  readonly statusCode = 401;
  constructor(message: string) {
    super(message);
    this.name = "AuthError";
  }
}

/**
 * The subject of a token a process issues for itself, to call another service as
 * `service:<name>` (the API calling the validator). A user's id is a UUID, never this: the
 * HTTP services refuse such a token (it speaks for no user), the validator takes both kinds.
 */
export const SERVICE_SUBJECT_PREFIX = "service:";

/** Whether a verified token is a service's own rather than a user's. */
export function isServiceToken(user: AuthUser): boolean {
  return user.id.startsWith(SERVICE_SUBJECT_PREFIX);
}

const ISSUER = "taskflow";
const AUDIENCE = "taskflow";
const HMAC_SHA256 = { name: "HMAC", hash: "SHA-256" } as const;

/** How many verified tokens a process remembers (a client sends the same token many times). */
const VERIFIED_CACHE_SIZE = 10_000;

/**
 * Short-lived HS256 access tokens; every service verifies them with the shared secret.
 *
 * A verified token is remembered until it expires: a client sends the same token with every
 * request, and checking its signature again (WebCrypto HMAC) was most of the API's CPU per
 * request. The cache is keyed by the whole token, so only the exact bytes that passed
 * verification hit it, and an entry is never used past the token's own `exp`.
 */
export function createTokenService(options: {
  secret: string;
  ttlSeconds: number;
  now?: () => number;
}): TokenService {
  if (options.secret.length < 32) throw new Error("the JWT secret must be at least 32 characters");
  const now = options.now ?? Date.now;
  // Imported once: jose would import a raw secret again on every call.
  const key = crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(options.secret),
    HMAC_SHA256,
    false,
    ["sign", "verify"],
  );
  const verified = new Map<string, { user: AuthUser; expiresAtMs: number }>();

  function remember(token: string, user: AuthUser, expiresAtMs: number) {
    if (verified.size >= VERIFIED_CACHE_SIZE) {
      // Oldest first (a Map keeps insertion order): those expire soonest.
      const oldest = verified.keys().next();
      if (!oldest.done) verified.delete(oldest.value);
    }
    verified.set(token, { user, expiresAtMs });
  }

  return {
    ttlSeconds: options.ttlSeconds,
    async issue(user) {
      const issuedAt = Math.floor(now() / 1000);
      const token = await new SignJWT({ email: user.email, name: user.name })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(user.id)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + options.ttlSeconds)
        .sign(await key);
      return { access_token: token, token_type: "bearer", expires_in: options.ttlSeconds };
    },
    async verify(token) {
      const cached = verified.get(token);
      if (cached) {
        if (now() < cached.expiresAtMs) return cached.user;
        verified.delete(token);
        throw new AuthError("token expired");
      }
      try {
        const { payload } = await jwtVerify(token, await key, {
          algorithms: ["HS256"],
          issuer: ISSUER,
          audience: AUDIENCE,
          requiredClaims: ["exp", "sub"],
          currentDate: new Date(now()),
        });
        if (typeof payload.sub !== "string" || typeof payload.email !== "string") {
          throw new AuthError("token lacks its subject");
        }
        const user = {
          id: payload.sub,
          email: payload.email,
          name: typeof payload.name === "string" ? payload.name : "",
        };
        remember(token, user, (payload.exp as number) * 1000);
        return user;
      } catch (error) {
        if (error instanceof AuthError) throw error;
        if (error instanceof errors.JWTExpired) throw new AuthError("token expired");
        throw new AuthError("invalid token");
      }
    },
  };
}
