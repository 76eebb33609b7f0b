import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { sessionStore } from "../../session/session-store.ts";
import {
  ADA,
  descriptionOf,
  emptyStats,
  fakeApi,
  json,
  problem,
} from "../../test-support/fake-api.ts";
import { renderApp } from "../../test-support/render-app.tsx";

describe("signing in", () => {
  it("when the form is sent empty, then each field says what is missing and nothing is sent", async () => {
    const api = fakeApi();
    renderApp("/sign-in");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));

    const email = screen.getByLabelText("Email");
    expect(email.getAttribute("aria-invalid")).toBe("true");
    expect(descriptionOf(email)).toBe("Enter your email address.");
    expect(screen.getByText("Enter your password.")).toBeDefined();
    // Focus moves to the first field that needs fixing.
    expect(document.activeElement).toBe(email);
    expect(api.requests).toHaveLength(0);
  });

  it("when the API answers 401, then the form says the email or password is wrong", async () => {
    const api = fakeApi();
    api.on("POST", "/api/auth/login", () => problem(401, "wrong email or password"));
    renderApp("/sign-in");
    await userEvent.type(screen.getByLabelText("Email"), "ada@example.com");
    await userEvent.type(screen.getByLabelText("Password"), "not the password");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));

    const alert = await screen.findByRole("alert");
    // Focus moves to the message in an effect after it renders: on a busy machine, later.
    await waitFor(() => {
      expect(alert.textContent).toBe("Wrong email or password.");
      expect(document.activeElement).toBe(alert);
    });
    expect(api.requestsTo("POST", "/api/auth/login")[0]?.body).toEqual({
      email: "ada@example.com",
      password: "not the password",
    });
    expect(sessionStore.token()).toBeUndefined();
  });

  it("when signed out on a page, then signing in leads back to it with the token in use", async () => {
    const api = fakeApi({ signedIn: true });
    api.on("POST", "/api/auth/login", () =>
      json({ access_token: "fresh-token", token_type: "bearer", expires_in: 900 }),
    );
    api.on("GET", "/api/tasks", () => json({ items: [], next_cursor: null }));
    api.on("GET", "/api/tasks/stats", () => json(emptyStats()));
    renderApp("/tasks?status=FAILED");

    await userEvent.type(await screen.findByLabelText("Email"), ADA.email);
    await userEvent.type(screen.getByLabelText("Password"), "correct horse");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));

    expect(await screen.findByRole("heading", { level: 1, name: "Tasks" })).toBeDefined();
    expect(await screen.findByText("No failed tasks.")).toBeDefined();
    const me = api.requestsTo("GET", "/api/auth/me")[0];
    expect(me?.headers.get("authorization")).toBe("Bearer fresh-token");
  });

  it("when a call answers 401 later, then the session ends and the sign-in page says why", async () => {
    const api = fakeApi({ signedIn: true });
    api.on("GET", "/api/tasks", () => problem(401, "token expired"));
    api.on("GET", "/api/tasks/stats", () => json(emptyStats()));
    renderApp("/tasks", { signedIn: true });

    expect(await screen.findByText("Your session has expired. Sign in again.")).toBeDefined();
    expect(screen.getByRole("heading", { level: 1, name: "Sign in" })).toBeDefined();
    await waitFor(() => expect(sessionStore.token()).toBeUndefined());
  });
});
