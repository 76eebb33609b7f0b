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

/** Who a token may speak for: a user, or a TaskFlow process calling another as itself. */
export type TokenKind = "user" | "service";

export interface TokenService {
  issue(user: AuthUser): Promise<IssuedToken>;
  /**
   * A token for calls this process makes to another service as itself (the API calling the
   * validator): subject `service:<name>`, and an audience of its own, so a route that takes
   * users' tokens refuses it in verification itself.
   */
  issueService(name: string): Promise<IssuedToken>;
  /**
   * Resolves the caller, or rejects with an AuthError (expired, forged, malformed, or of a
   * kind not in `accept`; default: users only).
   */
  verify(token: string, accept?: readonly TokenKind[]): Promise<AuthUser>;
  readonly ttlSeconds: number;
}

export class AuthError extends Error {
  readonly statusCode = 401;
  constructor(message: string) {
    super(message);
    this.name = "AuthError";
  }
}

const ISSUER = "taskflow";
/** The audience of each kind of token: verification accepts only the kinds it is told. */
const AUDIENCES: Record<TokenKind, string> = {
  user: "taskflow",
  service: "taskflow:service",
};
const USERS_ONLY: readonly TokenKind[] = ["user"];
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
  const verified = new Map<string, { user: AuthUser; kind: TokenKind; expiresAtMs: number }>();

  async function sign(user: AuthUser, kind: TokenKind): Promise<IssuedToken> {
    const issuedAt = Math.floor(now() / 1000);
    const token = await new SignJWT({ email: user.email, name: user.name })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(user.id)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCES[kind])
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + options.ttlSeconds)
      .sign(await key);
    return { access_token: token, token_type: "bearer", expires_in: options.ttlSeconds };
  }

  function remember(token: string, user: AuthUser, kind: TokenKind, expiresAtMs: number) {
    if (verified.size >= VERIFIED_CACHE_SIZE) {
      // Oldest first (a Map keeps insertion order): those expire soonest.
      const oldest = verified.keys().next();
      if (!oldest.done) verified.delete(oldest.value);
    }
    verified.set(token, { user, kind, expiresAtMs });
  }

  return {
    ttlSeconds: options.ttlSeconds,
    issue: (user) => sign(user, "user"),
    issueService: (name) =>
      sign({ id: `service:${name}`, email: `${name}@services.taskflow.internal`, name }, "service"),
    async verify(token, accept = USERS_ONLY) {
      const cached = verified.get(token);
      if (cached) {
        if (!accept.includes(cached.kind)) throw new AuthError("invalid token");
        if (now() < cached.expiresAtMs) return cached.user;
        verified.delete(token);
        throw new AuthError("token expired");
      }
      try {
        const { payload } = await jwtVerify(token, await key, {
          algorithms: ["HS256"],
          issuer: ISSUER,
          audience: accept.map((kind) => AUDIENCES[kind]),
          requiredClaims: ["exp", "sub"],
          currentDate: new Date(now()),
        });
        // One audience, one kind: we never issue a token meant for several.
        if (typeof payload.aud !== "string") throw new AuthError("invalid token");
        if (typeof payload.sub !== "string" || typeof payload.email !== "string") {
          throw new AuthError("token lacks its subject");
        }
        const user = {
          id: payload.sub,
          email: payload.email,
          name: typeof payload.name === "string" ? payload.name : "",
        };
        const kind: TokenKind = payload.aud === AUDIENCES.service ? "service" : "user";
        remember(token, user, kind, (payload.exp as number) * 1000);
        return user;
      } catch (error) {
        if (error instanceof AuthError) throw error;
        if (error instanceof errors.JWTExpired) throw new AuthError("token expired");
        throw new AuthError("invalid token");
      }
    },
  };
}
