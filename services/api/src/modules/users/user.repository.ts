import { type Database, type Kysely, sql, type UserRow } from "@taskflow/db";
import { uuidv7 } from "uuidv7";

export function createUserRepository(db: Kysely<Database>) {
  return {
    /** Inserts a user; undefined when the email (case-insensitively) is taken. */
    async create(user: {
      email: string;
      name: string;
      passwordHash: string;
    }): Promise<UserRow | undefined> {
      return db
        .insertInto("users")
        .values({
          id: uuidv7(),
          email: user.email,
          name: user.name,
          password_hash: user.passwordHash,
        })
        .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
        .returningAll()
        .executeTakeFirst();
    },
    async findByEmail(email: string): Promise<UserRow | undefined> {
      return db
        .selectFrom("users")
        .selectAll()
        .where(sql`lower(email)`, "=", email.toLowerCase())
        .executeTakeFirst();
    },
    async findById(id: string): Promise<UserRow | undefined> {
      return db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    },
  };
}

export type UserRepository = ReturnType<typeof createUserRepository>;
