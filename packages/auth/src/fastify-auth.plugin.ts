import cookie from "@fastify/cookie";
import type { FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { AuthError, type AuthUser, type TokenService } from "./tokens.ts";

/** HttpOnly cookie holding the access token, for clients that cannot send headers (EventSource). */
export const SESSION_COOKIE = "taskflow_session";

declare module "fastify" {
  interface FastifyRequest {
    /** Set by `app.authenticate`; routes behind it may rely on it. */
    user: AuthUser;
  }
  interface FastifyInstance {
    /** preHandler: verifies the bearer token (or the session cookie) or answers 401. */
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    tokens: TokenService;
  }
}

export interface AuthPluginOptions {
  tokens: TokenService;
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new AuthError("the Authorization header must be 'Bearer <token>'");
    return match[1];
  }
  return request.cookies[SESSION_COOKIE];
}

/**
 * Authentication for every TaskFlow HTTP service. A route opts in with
 * `{ onRequest: app.authenticate }`; failures are AuthErrors (statusCode 401) for the
 * service's error handler to render.
 */
export const authPlugin = fp<AuthPluginOptions>(
  async (app, options) => {
    if (!app.hasDecorator("parseCookie")) await app.register(cookie);
    app.decorate("tokens", options.tokens);
    app.decorateRequest("user", null as unknown as AuthUser);
    app.decorate("authenticate", async (request: FastifyRequest) => {
      const token = bearerToken(request);
      if (!token) throw new AuthError("authentication required");
      // Users' tokens only: a service's (the API's own, for the validator) has another
      // audience and is answered like a forged one.
      request.user = await options.tokens.verify(token);
    });
  },
  { name: "taskflow-auth", fastify: "5.x" },
);

/** Sets the session cookie after a login (HttpOnly, SameSite=Strict, path /api). */
export function setSessionCookie(
  reply: FastifyReply,
  token: string,
  options: { maxAgeSeconds: number; secure: boolean },
) {
  reply.setCookie(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "strict",
    secure: options.secure,
    path: "/api",
    maxAge: options.maxAgeSeconds,
  });
}
