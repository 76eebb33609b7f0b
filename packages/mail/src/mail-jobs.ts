import type { NewJob } from "@taskflow/messaging";

/**
 * The jobs the mailer runs, as their producers write them (into the outbox, in the
 * transaction of the change that calls for the email). The job id is the email's identity:
 * one welcome email per user, however often the message is published.
 */
export const WELCOME_EMAIL_JOB = "email.welcome";

export interface WelcomeEmailData {
  user_id: string;
  email: string;
  name: string;
}

export function welcomeEmailJob(user: { id: string; email: string; name: string }): NewJob {
  return {
    name: WELCOME_EMAIL_JOB,
    jobId: `${WELCOME_EMAIL_JOB}.${user.id}`,
    data: { user_id: user.id, email: user.email, name: user.name } satisfies WelcomeEmailData,
    // An SMTP server may be down for a while: ~1 s, 2 s, 4 s … up to about 17 minutes in all.
    attempts: 10,
    backoffMs: 1_000,
  };
}
