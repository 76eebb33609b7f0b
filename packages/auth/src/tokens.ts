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

const ISSUER = "taskflow";
const AUDIENCE = "taskflow";

/** Short-lived HS256 access tokens; every service verifies them with the shared secret. */
export function createTokenService(options: { secret: string; ttlSeconds: number }): TokenService {
  if (options.secret.length < 32) throw new Error("the JWT secret must be at least 32 characters");
  const key = new TextEncoder().encode(options.secret);
  return {
    ttlSeconds: options.ttlSeconds,
    async issue(user) {
      const token = await new SignJWT({ email: user.email, name: user.name })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(user.id)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(`${options.ttlSeconds}s`)
        .sign(key);
      return { access_token: token, token_type: "bearer", expires_in: options.ttlSeconds };
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ["HS256"],
          issuer: ISSUER,
          audience: AUDIENCE,
        });
        if (typeof payload.sub !== "string" || typeof payload.email !== "string") {
          throw new AuthError("token lacks its subject");
        }
        return {
          id: payload.sub,
          email: payload.email,
          name: typeof payload.name === "string" ? payload.name : "",
        };
      } catch (error) {
        if (error instanceof AuthError) throw error;
        if (error instanceof errors.JWTExpired) throw new AuthError("token expired");
        throw new AuthError("invalid token");
      }
    },
  };
}
