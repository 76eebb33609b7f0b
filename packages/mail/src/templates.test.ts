import { describe, expect, it } from "vitest";
import { EmailTemplateError, renderEmail } from "./templates.ts";

const welcome = {
  name: 'Ann <script>alert("x")</script> & Co',
  email: "ann@example.com",
  app_url: "https://taskflow.example/app?from=mail&x=1",
};

describe("renderEmail", () => {
  it("renders the welcome email: plain subject and text, escaped HTML", () => {
    const email = renderEmail("welcome", welcome);

    expect(email.subject).toBe(`Welcome to TaskFlow, ${welcome.name}`);
    // Plain text takes the data as it is: no entities for a reader to decode.
    expect(email.text).toContain(`Hi ${welcome.name},`);
    expect(email.text).toContain(welcome.email);
    expect(email.text).toContain(welcome.app_url);

    expect(email.html).not.toContain("<script>");
    expect(email.html).toContain(
      "Ann &lt;script&gt;alert(&quot;x&quot;)&lt;&#x2F;script&gt; &amp; Co",
    );
    expect(email.html).toContain("ann@example.com");
    // The link survives escaping (entities are decoded inside the attribute).
    expect(email.html).toMatch(
      /href="https:&#x2F;&#x2F;taskflow\.example&#x2F;app\?from&#x3D;mail&amp;x&#x3D;1"/,
    );
    expect(email.html).not.toMatch(/\{\{|\}\}/);
  });

  it("keeps the subject on one line, whatever the data holds", () => {
    const email = renderEmail("welcome", { ...welcome, name: "Ann\r\nBcc: someone@example.com" });
    expect(email.subject).toBe("Welcome to TaskFlow, Ann Bcc: someone@example.com");
  });

  it("renders again from the cached template with other data", () => {
    const first = renderEmail("welcome", welcome);
    const second = renderEmail("welcome", { ...welcome, name: "Bob" });
    expect(second.subject).toBe("Welcome to TaskFlow, Bob");
    expect(second.html).not.toBe(first.html);
  });

  it("refuses an unknown template", () => {
    // @ts-expect-error: not a template name
    expect(() => renderEmail("order_confirmation", welcome)).toThrow(EmailTemplateError);
    // @ts-expect-error: not a template name
    expect(() => renderEmail("../templates/welcome", welcome)).toThrow(
      /unknown email template "\.\.\/templates\/welcome"/,
    );
  });

  it("refuses data without a variable the template uses, naming it", () => {
    const { app_url: _omitted, ...withoutUrl } = welcome;
    // @ts-expect-error: app_url is missing
    expect(() => renderEmail("welcome", withoutUrl)).toThrow(EmailTemplateError);
    // @ts-expect-error: app_url is missing
    expect(() => renderEmail("welcome", withoutUrl)).toThrow(/"app_url"/);
  });

  it("renders an empty value as empty (only a missing variable is an error)", () => {
    expect(renderEmail("welcome", { ...welcome, name: "" }).subject).toBe("Welcome to TaskFlow,");
  });
});
