import { createTransport } from "nodemailer";
import type { NodemailerError } from "nodemailer/lib/errors";
import { type Mailer, MailRejected, type OutgoingMail, type SentMail } from "./mailer.ts";

export interface SmtpMailerOptions {
  /** smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…:465 (TLS from the start). */
  url: string;
  /** Connections kept open to the server (default 5). */
  maxConnections?: number;
  /** Longest wait for the TCP connection, then for the server's greeting (default 10 s each). */
  connectTimeoutMs?: number;
  /** Longest silence from the server in the middle of a send (default 60 s). */
  socketTimeoutMs?: number;
}

/**
 * The SMTP adapter: a pool of nodemailer connections, each reused for many messages. The
 * server's 5xx refusal becomes MailRejected (the caller gives up); a 4xx, a refused
 * connection or a timeout is thrown as it is (the caller retries later).
 */
export function createSmtpMailer(options: SmtpMailerOptions): Mailer {
  const connectTimeout = options.connectTimeoutMs ?? 10_000;
  const transporter = createTransport({
    url: options.url,
    pool: true,
    maxConnections: options.maxConnections ?? 5,
    // nodemailer's defaults (2 min to connect, 10 min of silence) would hold a job that long.
    connectionTimeout: connectTimeout,
    greetingTimeout: connectTimeout,
    socketTimeout: options.socketTimeoutMs ?? 60_000,
    // Our messages are strings we rendered: nothing may make nodemailer read a file or a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
  });

  return {
    engine: "smtp",

    async send(message: OutgoingMail): Promise<SentMail> {
      try {
        const info = await transporter.sendMail({
          // The caller's stable id, so that a resend after a crash can be recognised.
          messageId: message.messageId,
          from: message.from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          html: message.html,
        });
        return { messageId: message.messageId, response: info.response };
      } catch (error) {
        throw asRejection(error) ?? error;
      }
    },

    async ping() {
      await transporter.verify();
    },

    async close() {
      // Idle connections say QUIT now; one in the middle of a message finishes it first.
      transporter.close();
    },
  };
}

/** A MailRejected for a reply that another attempt would get again, else undefined. */
function asRejection(error: unknown): MailRejected | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, responseCode, permanent, response } = error as NodemailerError;
  if (responseCode === undefined) return undefined; // no SMTP reply: connection, timeout, TLS
  // A refused login (535) is our configuration, not this message: fixed, the next try works.
  if (code === "EAUTH") return undefined;
  // nodemailer (≥ 10.2) classifies the reply: every 5xx but 503 ("bad sequence", a session
  // problem a new connection fixes) is permanent. Without its verdict, 5xx means permanent.
  if (!(permanent ?? responseCode >= 500)) return undefined;
  return new MailRejected(response ?? error.message, responseCode);
}
