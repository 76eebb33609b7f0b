import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { fakeApi, json, problem } from "../../test-support/fake-api.ts";
import { renderApp } from "../../test-support/render-app.tsx";
import type { SinkMail } from "./mail.page.tsx";

const WELCOME: SinkMail = {
  id: "2",
  message_id: "<welcome@taskflow>",
  from: "TaskFlow <no-reply@taskflow.local>",
  to: "ada@example.com",
  subject: "Welcome to TaskFlow",
  text: "Hello Ada,\nwelcome.",
  html: '<p>Hello <b>Ada</b></p><script>parent.alert("x")</script>',
  created_at: "2026-01-01T12:00:00.000Z",
};
const RECEIPT: SinkMail = {
  ...WELCOME,
  id: "1",
  message_id: "<receipt@taskflow>",
  subject: "Your order",
  text: "2 items",
  html: "",
};

describe("the mail page", () => {
  it("when the API has no mail sink (404, production), then it says it is not available", async () => {
    const api = fakeApi({ signedIn: true });
    renderApp("/mail", { signedIn: true });

    expect(await screen.findByText("The mail sink is not available here.")).toBeDefined();
    expect(screen.getByRole("heading", { level: 1, name: "Mail" })).toBeDefined();
    expect(screen.queryByRole("button", { name: "Refresh" })).toBeNull();
    expect(api.requestsTo("GET", "/api/dev/mail")).toHaveLength(1);
  });

  it("lists the inbox and shows an email's HTML in a sandbox without scripts, or its text", async () => {
    const api = fakeApi({ signedIn: true });
    api.on("GET", "/api/dev/mail", () => json({ items: [WELCOME, RECEIPT] }));
    renderApp("/mail", { signedIn: true });

    await userEvent.click(await screen.findByRole("link", { name: /Welcome to TaskFlow/ }));

    const subject = await screen.findByRole("heading", { level: 2, name: "Welcome to TaskFlow" });
    expect(document.activeElement).toBe(subject);
    const frame = screen.getByTitle<HTMLIFrameElement>("Email: Welcome to TaskFlow");
    expect(frame.tagName).toBe("IFRAME");
    expect(frame.getAttribute("sandbox")).toBe("");
    expect(frame.getAttribute("srcdoc")).toContain("<p>Hello <b>Ada</b></p>");
    expect(frame.getAttribute("srcdoc")).toContain("Content-Security-Policy");
    expect(
      screen.getByRole("link", { name: /Welcome to TaskFlow/ }).getAttribute("aria-current"),
    ).toBe("true");

    await userEvent.click(screen.getByRole("button", { name: "Text" }));
    expect(screen.getByText(/Hello Ada,\s+welcome\./)).toBeDefined();
    expect(screen.queryByTitle("Email: Welcome to TaskFlow")).toBeNull();

    // An email without HTML is shown as text.
    await userEvent.click(screen.getByRole("link", { name: /Your order/ }));
    expect(await screen.findByText("2 items")).toBeDefined();
    expect(screen.queryByRole("button", { name: "HTML" })).toBeNull();
    expect(api.requestsTo("GET", "/api/dev/mail")[0]?.query.get("limit")).toBe("50");
  });

  it("shows an empty inbox, and an error with a way to try again", async () => {
    const api = fakeApi({ signedIn: true });
    let fail = true;
    api.on("GET", "/api/dev/mail", () => (fail ? problem(500, "boom") : json({ items: [] })));
    renderApp("/mail", { signedIn: true });

    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("The inbox is unavailable.");
    fail = false;
    await userEvent.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("No emails yet.")).toBeDefined();
  });
});
