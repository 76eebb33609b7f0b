import { appendToOutbox, type Database, type Kysely, sql, type UserRow } from "@taskflow/db";
import { welcomeEmailJob } from "@taskflow/mail";
import { JOB_QUEUE_DESTINATION } from "@taskflow/messaging";
import { uuidv7 } from "uuidv7";

export function createUserRepository(db: Kysely<Database>) {
  return {
    /**
     * Inserts a user and, in the same transaction, the outbox message that asks for their
     * welcome email; undefined (and no email) when the email (case-insensitively) is taken.
     */
    async create(user: {
      email: string;
      name: string;
      passwordHash: string;
    }): Promise<UserRow | undefined> {
      return db.transaction().execute(async (trx) => {
        const created = await trx
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
        if (created) {
          await appendToOutbox(trx, [
            {
              destination: JOB_QUEUE_DESTINATION,
              key: created.id,
              payload: welcomeEmailJob(created),
            },
          ]);
        }
        return created;
      });
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
