import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import Mustache from "mustache";

/**
 * Every email template and the data it renders from. A template is three mustache files in
 * packages/mail/templates: `{name}.subject.txt`, `{name}.txt` and `{name}.html`; adding an
 * email is those files and one line here.
 */
export interface EmailTemplates {
  welcome: { name: string; email: string; app_url: string };
  /** Numbers and times come formatted; `fired_at` is only shown for a resolved alert. */
  alert: {
    firing: boolean;
    status_label: "FIRING" | "RESOLVED";
    rule: string;
    severity: string;
    summary: string;
    value: string;
    threshold: string;
    since: string;
    fired_at: string;
    app_url: string;
  };
  /** Money and times come formatted ("1,234.56 EUR", "23 November 2026 at 10:05 UTC"). */
  "order-confirmation": {
    name: string;
    order_id: string;
    created_at: string;
    items: { quantity: number; name: string; sku: string; line_total: string }[];
    total: string;
    app_url: string;
  };
}

export type EmailTemplateName = keyof EmailTemplates;

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** An unknown template, a broken one, or data without a variable the template uses. */
export class EmailTemplateError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EmailTemplateError";
  }
}

// Found through the package rather than this file's URL: in the bundle
// (packages/cli/dist/taskflow.mjs) this module's URL is the bundle's.
export const TEMPLATES_DIR = path.join(
  path.dirname(createRequire(import.meta.url).resolve("@taskflow/mail/package.json")),
  "templates",
);

interface Template {
  subject: string;
  text: string;
  html: string;
}

const loaded = new Map<string, Template>();

/**
 * Renders an email from its template. The HTML part escapes every `{{variable}}`; the subject
 * and the text part are plain text and take the data as it is. Throws EmailTemplateError for
 * an unknown template or a variable the data lacks (mustache would print nothing).
 */
export function renderEmail<N extends EmailTemplateName>(
  name: N,
  data: EmailTemplates[N],
): RenderedEmail {
  const template = load(name);
  const render = (part: keyof Template, escapeValue?: (value: unknown) => string) =>
    Mustache.render(
      template[part],
      new StrictContext(data, undefined, `${name} (${part})`),
      undefined,
      escapeValue ? { escape: escapeValue } : undefined,
    );
  const asIs = (value: unknown) => String(value);
  return {
    // A header is one line, whatever the data holds.
    subject: render("subject", asIs)
      .replace(/\s*[\r\n]+\s*/g, " ")
      .trim(),
    text: render("text", asIs),
    html: render("html"),
  };
}

/** Reads a template's files on first use and parses them (a syntax error shows up here). */
function load(name: string): Template {
  const cached = loaded.get(name);
  if (cached) return cached;
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
    throw new EmailTemplateError(`unknown email template "${name}"`);
  }
  const read = (suffix: string) => {
    const file = path.join(TEMPLATES_DIR, `${name}${suffix}`);
    let source: string;
    try {
      source = readFileSync(file, "utf8");
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
      throw new EmailTemplateError(
        missing ? `unknown email template "${name}" (no ${file})` : `cannot read ${file}`,
        { cause: error },
      );
    }
    try {
      Mustache.parse(source);
    } catch (error) {
      throw new EmailTemplateError(`${file}: ${(error as Error).message}`, { cause: error });
    }
    return source;
  };
  const template = { subject: read(".subject.txt"), text: read(".txt"), html: read(".html") };
  loaded.set(name, template);
  return template;
}

/** Mustache's context, except that a name the data lacks is an error instead of "". */
class StrictContext extends Mustache.Context {
  constructor(
    view: unknown,
    parent: Mustache.Context | undefined,
    private readonly part: string,
  ) {
    super(view, parent);
  }

  // Sections push a context per item; they must stay strict too.
  override push(view: unknown): Mustache.Context {
    return new StrictContext(view, this, this.part);
  }

  override lookup(name: string): unknown {
    const value: unknown = super.lookup(name);
    if (value === undefined) {
      throw new EmailTemplateError(
        `email template ${this.part} uses "${name}", missing from the data`,
      );
    }
    return value;
  }
}
