import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

/**
 * A real SMTP server for tests (the smtp-server package), on loopback: it keeps every
 * message it accepted, parsed. It can be stopped and started again on the same port to play
 * an outage, refuse recipients (550), or hold each message before answering.
 */
export interface TestSmtpServer {
  port: number;
  url: string;
  /** Messages accepted so far, in arrival order. */
  readonly received: ParsedMail[];
  /** Messages whose DATA began (accepted or not): a sender was mid-send. */
  readonly dataStarted: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestSmtpServer(
  options: { port?: number; rejectRecipients?: RegExp; holdMs?: number } = {},
): Promise<TestSmtpServer> {
  const received: ParsedMail[] = [];
  let dataStarted = 0;
  let server: SMTPServer | undefined;
  let port = options.port ?? 0;

  const create = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      // An outage drops open connections at once (the default waits 30 s for clients to leave).
      closeTimeout: 200,
      logger: false,
      onRcptTo(address, _session, callback) {
        if (options.rejectRecipients?.test(address.address)) {
          const error = new Error("mailbox unavailable") as Error & { responseCode: number };
          error.responseCode = 550;
          return callback(error);
        }
        callback();
      },
      onData(stream, _session, callback) {
        dataStarted++;
        simpleParser(stream)
          .then(async (mail) => {
            if (options.holdMs) await new Promise((r) => setTimeout(r, options.holdMs));
            received.push(mail);
            callback();
          })
          .catch((error: Error) => callback(error));
      },
    });

  const handle: TestSmtpServer = {
    get port() {
      return port;
    },
    get url() {
      return `smtp://127.0.0.1:${port}`;
    },
    received,
    get dataStarted() {
      return dataStarted;
    },
    start() {
      server = create();
      const current = server;
      return new Promise((resolve, reject) => {
        current.once("error", reject);
        current.listen(port, "127.0.0.1", () => {
          const address = current.server.address();
          if (address && typeof address === "object") port = address.port;
          resolve();
        });
      });
    },
    stop() {
      const current = server;
      server = undefined;
      return new Promise((resolve) => (current ? current.close(() => resolve()) : resolve()));
    },
  };
  await handle.start();
  return handle;
}
