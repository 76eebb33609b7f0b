import { createDatabase, migrateUp } from "@taskflow/db";
import { createSmtpMailer } from "@taskflow/mail/smtp";
import { createEmbeddedJobQueue, type JobQueue } from "@taskflow/messaging";
import { createLogger, createMetrics } from "@taskflow/observability";
import { startTestSmtpServer, type TestSmtpServer } from "@taskflow/testing";
import { createMailerWorker } from "../src/index.ts";

export interface MailerOverSmtp {
  smtp: TestSmtpServer;
  jobs: JobQueue;
  stop(): Promise<void>;
}

/**
 * The mailer worker on an embedded job queue (PGlite in memory) sending to a real SMTP server
 * on loopback, From `from`.
 */
export async function startMailerOverSmtp(queue: string, from: string): Promise<MailerOverSmtp> {
  const smtp = await startTestSmtpServer();
  const database = await createDatabase({ dataDir: "memory://" });
  await migrateUp(database.db);
  const jobs = createEmbeddedJobQueue({ database, queue, pollMs: 50 });
  const mailer = createSmtpMailer({ url: smtp.url });
  const worker = createMailerWorker({
    jobs,
    mailer,
    from,
    appUrl: "https://taskflow.example",
    concurrency: 2,
    logger: createLogger({ level: "silent", service: "mailer-test" }),
    metrics: createMetrics("mailer-test"),
  });
  await worker.start();
  return {
    smtp,
    jobs,
    async stop() {
      await worker.stop(1_000);
      await mailer.close();
      await jobs.close();
      await database.close();
      await smtp.stop();
    },
  };
}
