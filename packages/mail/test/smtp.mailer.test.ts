import { freePort } from "@taskflow/testing";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerAddress } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mailer, MailRejected, type OutgoingMail } from "../src/index.ts";
import { createSmtpMailer } from "../src/smtp.mailer.ts";

interface Received {
  mail: ParsedMail;
  envelope: { from: string; to: string[] };
  user: unknown;
}

/** An SMTP error as smtp-server sends it: the code is the reply's. */
function smtpError(responseCode: number, message: string) {
  return Object.assign(new Error(message), { responseCode });
}

/**
 * A real SMTP server on loopback (smtp-server) that keeps what it accepted, parsed. Its
 * answers depend on the recipient: rejected@ → 550 at RCPT, greylisted@ → 451 at RCPT,
 * deferred@ → 451 after the message's data.
 */
async function startSmtpServer(port = 0) {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    // Its self-signed certificate would fail nodemailer's opportunistic STARTTLS.
    disabledCommands: ["STARTTLS"],
    logger: false,
    closeTimeout: 1_000,
    onAuth(auth, _session, callback) {
      if (auth.username === "taskflow" && auth.password === "s3cret") {
        return callback(null, { user: auth.username });
      }
      callback(smtpError(535, "authentication failed"));
    },
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      if (address.address.startsWith("rejected@")) {
        return callback(smtpError(550, "5.1.1 no such mailbox here"));
      }
      if (address.address.startsWith("greylisted@")) {
        return callback(smtpError(451, "4.7.1 greylisted, try again later"));
      }
      callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const to = session.envelope.rcptTo.map((r) => r.address);
          if (to.some((address) => address.startsWith("deferred@"))) {
            return callback(smtpError(451, "4.3.0 queue full, try again later"));
          }
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
          received.push({ mail, envelope: { from, to }, user: session.user });
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const message = (to: string, overrides: Partial<OutgoingMail> = {}): OutgoingMail => ({
  messageId: `<welcome.${to.replace(/\W/g, "-")}@taskflow.test>`,
  from: '"TaskFlow" <hello@taskflow.test>',
  to,
  subject: "Welcome to TaskFlow, Ann",
  text: "Hi Ann,\n\nWelcome to TaskFlow.\n",
  html: "<p>Hi Ann &amp; co,</p><p>Welcome to <b>TaskFlow</b>.</p>",
  ...overrides,
});

describe("the SMTP mailer against a real SMTP server", () => {
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let mailer: Mailer;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    mailer = createSmtpMailer({ url: `smtp://taskflow:s3cret@127.0.0.1:${smtp.port}` });
  });
  afterAll(async () => {
    await mailer?.close();
    await smtp?.close();
  });

  it("sends the message as given, with its Message-ID, and returns the server's answer", async () => {
    const sent = message("ann@example.com", { messageId: "<welcome.0192-ab@taskflow.test>" });
    await expect(mailer.send(sent)).resolves.toEqual({
      messageId: "<welcome.0192-ab@taskflow.test>",
      response: expect.stringMatching(/^250 /),
    });

    expect(smtp.received).toHaveLength(1);
    const [{ mail, envelope, user }] = smtp.received as [Received];
    expect(envelope).toEqual({ from: "hello@taskflow.test", to: ["ann@example.com"] });
    expect(user).toBe("taskflow"); // the URL's credentials were used
    expect(mail.messageId).toBe("<welcome.0192-ab@taskflow.test>");
    expect(mail.from?.value).toEqual([{ name: "TaskFlow", address: "hello@taskflow.test" }]);
    expect(mail.to).toMatchObject({ value: [{ name: "", address: "ann@example.com" }] });
    expect(mail.subject).toBe(sent.subject);
    expect(mail.text).toBe(sent.text);
    expect(mail.html).toBe(sent.html);
  });

  it("sends the same Message-ID again when asked to (a resend stays recognisable)", async () => {
    const again = message("bob@example.com");
    await mailer.send(again);
    await mailer.send(again);
    const copies = smtp.received.filter((r) => r.envelope.to.includes("bob@example.com"));
    expect(copies.map((r) => r.mail.messageId)).toEqual([again.messageId, again.messageId]);
  });

  it("throws MailRejected with the code and the server's text when the recipient is refused (550)", async () => {
    const error = await mailer.send(message("rejected@example.com")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailRejected);
    expect(error).toMatchObject({ responseCode: 550 });
    expect((error as MailRejected).message).toMatch(/550.*no such mailbox here/);
    // The pooled connection stays usable for the next message.
    await expect(mailer.send(message("carol@example.com"))).resolves.toMatchObject({
      response: expect.stringMatching(/^250 /),
    });
  });

  it("throws a transient error, not MailRejected, when the server answers 451 to the recipient", async () => {
    const error = await mailer.send(message("greylisted@example.com")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(MailRejected);
    expect(error).toMatchObject({ responseCode: 451 });
  });

  it("throws a transient error, not MailRejected, when the server answers 451 to the message", async () => {
    const error = await mailer.send(message("deferred@example.com")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(MailRejected);
    expect(error).toMatchObject({ responseCode: 451 });
    expect(smtp.received.some((r) => r.envelope.to.includes("deferred@example.com"))).toBe(false);
  });

  it("throws a transient error, not MailRejected, when the server refuses the login (535)", async () => {
    const wrong = createSmtpMailer({ url: `smtp://taskflow:wrong@127.0.0.1:${smtp.port}` });
    try {
      const error = await wrong.send(message("erin@example.com")).catch((e: unknown) => e);
      expect(error).not.toBeInstanceOf(MailRejected);
      expect(error).toMatchObject({ code: "EAUTH", responseCode: 535 });
    } finally {
      await wrong.close();
    }
  });

  it("answers ping while the server is up", async () => {
    await expect(mailer.ping()).resolves.toBeUndefined();
  });
});

describe("the SMTP mailer while the server is down", () => {
  it("throws a transient error (connection refused) and sends once the server is up", async () => {
    const port = await freePort(); // nothing listens here yet
    const mailer = createSmtpMailer({ url: `smtp://127.0.0.1:${port}` });
    let smtp: Awaited<ReturnType<typeof startSmtpServer>> | undefined;
    try {
      const error = await mailer.send(message("dana@example.com")).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(MailRejected);
      expect(error).toMatchObject({ code: "ESOCKET", originalCode: "ECONNREFUSED" });
      await expect(mailer.ping()).rejects.toThrow();

      smtp = await startSmtpServer(port);
      await expect(mailer.send(message("dana@example.com"))).resolves.toMatchObject({
        response: expect.stringMatching(/^250 /),
      });
      expect(smtp.received.map((r) => r.envelope.to)).toEqual([["dana@example.com"]]);
      await expect(mailer.ping()).resolves.toBeUndefined();
    } finally {
      await mailer.close();
      await smtp?.close();
    }
  });
});
