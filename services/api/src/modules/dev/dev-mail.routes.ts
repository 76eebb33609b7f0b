import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { Database, Kysely } from "@taskflow/db";
import { listSinkMail } from "@taskflow/mail";

const SinkMail = Type.Object({
  id: Type.String(),
  message_id: Type.String(),
  from: Type.String(),
  to: Type.String(),
  subject: Type.String(),
  text: Type.String(),
  html: Type.String(),
  created_at: Type.String({ format: "date-time" }),
});

/**
 * GET /api/dev/mail: what the embedded mail sink caught, newest first — the development
 * stand-in for an inbox. Registered only outside production.
 */
export const devMailRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<Database> }> = async (
  app,
  { db },
) => {
  app.get(
    "",
    {
      schema: {
        tags: ["development"],
        summary: "Emails caught by the embedded mail sink (not in production)",
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(SinkMail) }) },
      },
    },
    async (request) => {
      const rows = await listSinkMail(db, { limit: request.query.limit ?? 20 });
      return {
        items: rows.map((mail) => ({
          id: String(mail.id),
          message_id: mail.message_id,
          from: mail.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          created_at: mail.created_at.toISOString(),
        })),
      };
    },
  );
};
