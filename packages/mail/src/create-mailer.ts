import type { DatabaseHandle } from "@taskflow/db";
import { lazyAdapter } from "@taskflow/messaging";
import type { Mailer } from "./mailer.ts";
import { createSinkMailer } from "./sink.mailer.ts";

/**
 * SMTP when a URL is configured (nodemailer, loaded on first use), else the embedded sink in
 * the application database.
 */
export function createMailer(options: {
  smtpUrl: string | undefined;
  database: DatabaseHandle;
}): Mailer {
  const { smtpUrl } = options;
  if (smtpUrl) {
    return lazyAdapter<Mailer>({ engine: "smtp" }, async () => {
      const { createSmtpMailer } = await import("./smtp.mailer.ts");
      return createSmtpMailer({ url: smtpUrl });
    });
  }
  return createSinkMailer({ database: options.database });
}
