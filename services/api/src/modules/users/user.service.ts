import {
  burnPasswordCheck,
  hashPassword,
  type IssuedToken,
  type TokenService,
  verifyPassword,
} from "@taskflow/auth";
import { HttpProblem } from "../../http/problem.ts";
import type { UserRepository } from "./user.repository.ts";

export interface PublicUser {
  id: string;
  email: string;
  name: string;
}

/** The caller as GET /api/auth/me shows them: `operator` follows TASKFLOW_ADMIN_EMAILS. */
export interface CurrentUser extends PublicUser {
  operator: boolean;
}

export interface NewAccount {
  email: string;
  password: string;
  name: string;
}

/** Hashes the password and stores the account (and its welcome email); 409 if the email is taken. */
export async function createAccount(users: UserRepository, input: NewAccount): Promise<PublicUser> {
  const passwordHash = await hashPassword(input.password);
  const user = await users.create({
    email: input.email.trim(),
    name: input.name.trim(),
    passwordHash,
  });
  if (!user) throw new HttpProblem(409, "an account with this email already exists");
  return { id: user.id, email: user.email, name: user.name };
}

/**
 * Registration, login and "who am I": the use cases behind /api/auth. Operator addresses
 * (TASKFLOW_ADMIN_EMAILS) cannot be registered over HTTP: operator rights follow the email,
 * and nothing here proves the caller owns it. `taskflow user create` makes those accounts.
 */
export function createUserService(deps: {
  users: UserRepository;
  tokens: TokenService;
  /** The operators' emails (TASKFLOW_ADMIN_EMAILS): not registrable, and `me` says operator. */
  reservedEmails?: readonly string[];
}) {
  const { users, tokens } = deps;
  const reserved = new Set((deps.reservedEmails ?? []).map((email) => email.toLowerCase()));

  const create = (input: NewAccount) => createAccount(users, input);

  return {
    async register(input: NewAccount): Promise<PublicUser> {
      if (reserved.has(input.email.trim().toLowerCase())) {
        throw new HttpProblem(
          403,
          "this address is reserved for an operator account (created with `taskflow user create`)",
        );
      }
      return create(input);
    },

    /** Creates an account whatever the address (the CLI's way, for operators). */
    create,

    async login(input: { email: string; password: string }): Promise<IssuedToken> {
      const user = await users.findByEmail(input.email.trim());
      const ok = user
        ? await verifyPassword(user.password_hash, input.password)
        : await burnPasswordCheck(input.password);
      if (!user || !ok) throw new HttpProblem(401, "wrong email or password");
      return tokens.issue({ id: user.id, email: user.email, name: user.name });
    },

    /** Operator rights follow the email, as the monitor and analytics routes check them. */
    async me(userId: string): Promise<CurrentUser> {
      const user = await users.findById(userId);
      // A valid token for a deleted account: the caller is no one.
      if (!user) throw new HttpProblem(401, "this account no longer exists");
      return {
        id: user.id,
        email: user.email,
        name: user.name,
        operator: reserved.has(user.email.toLowerCase()),
      };
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
