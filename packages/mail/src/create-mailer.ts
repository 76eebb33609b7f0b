import type { DatabaseHandle } from "@taskflow/db";
import type { Mailer } from "./mailer.ts";
import { createSinkMailer } from "./sink.mailer.ts";
import { createSmtpMailer } from "./smtp.mailer.ts";

/** SMTP when a URL is configured, else the embedded sink in the application database. */
export function createMailer(options: {
  smtpUrl: string | undefined;
  database: DatabaseHandle;
}): Mailer {
  if (options.smtpUrl) return createSmtpMailer({ url: options.smtpUrl });
  return createSinkMailer({ database: options.database });
}
