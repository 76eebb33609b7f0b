/**
 * The mail port. `send` either hands the message to the engine (an SMTP server accepted it,
 * or the embedded sink stored it) or throws: a MailRejected for a refusal that another try
 * cannot fix (a 5xx for the recipient), anything else for a transient failure (server down,
 * 4xx), which the caller retries.
 */
export interface Mailer {
  readonly engine: "smtp" | "sink";
  send(message: OutgoingMail): Promise<SentMail>;
  /** Fails unless the engine answers now. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OutgoingMail {
  /**
   * Stable across resends of the same email (`<welcome.{user id}@taskflow>`): a copy sent
   * again after a crash carries the same Message-ID, so it can be recognised.
   */
  messageId: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface SentMail {
  messageId: string;
  /** The server's answer ("250 OK: queued as …"), or "stored" by the sink. */
  response: string;
}

/** The server refused the message for good (5xx): do not retry. */
export class MailRejected extends Error {
  constructor(
    message: string,
    readonly responseCode?: number,
  ) {
    super(message);
    this.name = "MailRejected";
  }
}
