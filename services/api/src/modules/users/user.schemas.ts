import { Type } from "@sinclair/typebox";

const Email = Type.String({ format: "email", maxLength: 254, examples: ["ada@example.com"] });

export const RegisterBody = Type.Object(
  {
    email: Email,
    password: Type.String({ minLength: 8, maxLength: 256, description: "At least 8 characters" }),
    name: Type.String({ minLength: 1, maxLength: 200, pattern: "\\S" }),
  },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);

export const UserSchema = Type.Object(
  { id: Type.String({ format: "uuid" }), email: Type.String(), name: Type.String() },
  { $id: "User", title: "User" },
);

/**
 * GET /api/auth/me: the account and what it may do. Inline (no $id): only that route answers
 * it, and the User schema (what registering returns) stays as it is.
 */
export const CurrentUserSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    email: Type.String(),
    name: Type.String(),
    operator: Type.Boolean({
      description:
        "Whether the account is an operator's (its email is in TASKFLOW_ADMIN_EMAILS): the monitor and analytics answer it, 403 to anyone else",
    }),
  },
  { title: "CurrentUser" },
);

export const TokenSchema = Type.Object(
  {
    access_token: Type.String(),
    token_type: Type.Literal("bearer"),
    expires_in: Type.Integer({ description: "Seconds until the token expires" }),
  },
  { $id: "Token", title: "Token" },
);
