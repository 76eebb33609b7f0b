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

/** Registration, login and "who am I": the use cases behind /api/auth. */
export function createUserService(deps: { users: UserRepository; tokens: TokenService }) {
  const { users, tokens } = deps;
  return {
    async register(input: { email: string; password: string; name: string }): Promise<PublicUser> {
      const passwordHash = await hashPassword(input.password);
      const user = await users.create({
        email: input.email.trim(),
        name: input.name.trim(),
        passwordHash,
      });
      if (!user) throw new HttpProblem(409, "an account with this email already exists");
      return { id: user.id, email: user.email, name: user.name };
    },

    async login(input: { email: string; password: string }): Promise<IssuedToken> {
      const user = await users.findByEmail(input.email.trim());
      const ok = user
        ? await verifyPassword(user.password_hash, input.password)
        : await burnPasswordCheck(input.password);
      if (!user || !ok) throw new HttpProblem(401, "wrong email or password");
      return tokens.issue({ id: user.id, email: user.email, name: user.name });
    },

    async me(userId: string): Promise<PublicUser> {
      const user = await users.findById(userId);
      // A valid token for a deleted account: the caller is no one.
      if (!user) throw new HttpProblem(401, "this account no longer exists");
      return { id: user.id, email: user.email, name: user.name };
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
