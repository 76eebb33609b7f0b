import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { SESSION_COOKIE, setSessionCookie } from "@taskflow/auth";
import { HttpProblem } from "../../http/problem.ts";
import { CurrentUserSchema, LoginBody, RegisterBody, TokenSchema } from "./user.schemas.ts";
import type { UserService } from "./user.service.ts";

const problem = Type.Ref("Problem");

export interface AuthRoutesOptions {
  users: UserService;
  /** Login attempts per email per minute. */
  loginRateLimitPerMinute: number;
  /**
   * Login attempts per client address per minute (many users may share one address); the
   * same number of registrations per address, counted apart.
   */
  loginRateLimitPerAddressPerMinute: number;
  cookieSecure: boolean;
}

/** POST /api/auth/register, POST /api/auth/login, GET /api/auth/me, POST /api/auth/logout. */
export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  const { users } = options;
  // The plugin runs one limit per request (the route's, per email); the address gets its own.
  const perAddress = app.createRateLimit({
    max: options.loginRateLimitPerAddressPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `login-address:${request.ip}`,
  });

  app.post(
    "/register",
    {
      schema: {
        tags: ["auth"],
        summary: "Create an account",
        body: RegisterBody,
        description:
          "Addresses listed in TASKFLOW_ADMIN_EMAILS are refused (403): operator accounts are made with `taskflow user create`. Rate limited per client address (429 with Retry-After).",
        response: { 201: Type.Ref("User"), 403: problem, 409: problem, 422: problem, 429: problem },
      },
      config: {
        rateLimit: {
          // Each account costs an argon2id hash and a welcome email: no farming from one address.
          max: options.loginRateLimitPerAddressPerMinute,
          timeWindow: "1 minute",
          keyGenerator: (request) => `register-address:${request.ip}`,
        },
      },
    },
    async (request, reply) => reply.code(201).send(await users.register(request.body)),
  );

  app.post(
    "/login",
    {
      schema: {
        tags: ["auth"],
        summary: "Exchange credentials for a short-lived access token",
        description:
          "Also sets an HttpOnly session cookie (for EventSource, which cannot send headers). Rate limited per email and per client address.",
        body: LoginBody,
        response: { 200: TokenSchema, 401: problem, 429: problem },
      },
      config: {
        rateLimit: {
          max: options.loginRateLimitPerMinute,
          timeWindow: "1 minute",
          keyGenerator: (request) => {
            const email = (request.body as { email?: unknown } | undefined)?.email;
            return `login-email:${typeof email === "string" ? email.toLowerCase() : ""}`;
          },
        },
      },
      preHandler: async (request, reply) => {
        const verdict = await perAddress(request);
        // isAllowed means "on the allow list"; the count is in isExceeded.
        if (!verdict.isAllowed && verdict.isExceeded) {
          reply.header("retry-after", String(verdict.ttlInSeconds));
          throw new HttpProblem(429, "too many login attempts from this address");
        }
      },
    },
    async (request, reply) => {
      const token = await users.login(request.body);
      setSessionCookie(reply, token.access_token, {
        maxAgeSeconds: token.expires_in,
        secure: options.cookieSecure,
      });
      return token;
    },
  );

  app.post(
    "/logout",
    {
      schema: {
        tags: ["auth"],
        summary: "Clear the session cookie",
        response: { 204: Type.Null() },
      },
    },
    async (_request, reply) =>
      reply.clearCookie(SESSION_COOKIE, { path: "/api" }).code(204).send(null),
  );

  app.get(
    "/me",
    {
      onRequest: app.authenticate,
      schema: {
        tags: ["auth"],
        summary: "The caller's account, and whether it is an operator's",
        security: [{ bearerAuth: [] }],
        response: { 200: CurrentUserSchema, 401: problem },
      },
    },
    async (request) => users.me(request.user.id),
  );
};
