import { fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { fakeApi, json, problem } from "../../test-support/fake-api.ts";
import { TaskCreateForm } from "./task-create-form.tsx";

function renderForm(onCreated = vi.fn()) {
  render(
    <MemoryRouter>
      <TaskCreateForm onCreated={onCreated} />
    </MemoryRouter>,
  );
  return onCreated;
}

/** Replaces a field's text (userEvent.type would read `{` as a key name). */
function setText(label: string, value: string) {
  fireEvent.change(screen.getByLabelText(label), { target: { value } });
}

describe("the new-task form", () => {
  it("when the payload is not JSON, then the payload field says so and nothing is sent", async () => {
    const api = fakeApi();
    renderForm();
    setText("Payload (JSON)", '{ "ms": 10');
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));

    const payload = screen.getByLabelText("Payload (JSON)");
    expect(payload.getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByText(/^The payload is not valid JSON/)).toBeDefined();
    expect(document.activeElement).toBe(payload);
    expect(api.requests).toHaveLength(0);
  });

  it("when max attempts is out of range, then that field says what it accepts", async () => {
    const api = fakeApi();
    renderForm();
    setText("Max attempts", "50");
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));

    expect(screen.getByText("Enter a whole number from 1 to 20.")).toBeDefined();
    expect(api.requests).toHaveLength(0);
  });

  it("when the form is valid, then it posts the task and says it was created", async () => {
    const api = fakeApi();
    const created = {
      id: "0190a000-0000-7000-8000-00000000abcd",
      type: "echo",
      title: "say hi",
      status: "PENDING",
      created_at: "2026-01-01T12:00:00.000Z",
    };
    api.on("POST", "/api/tasks", () => json(created, 202));
    const onCreated = renderForm();

    await userEvent.selectOptions(screen.getByLabelText("Type"), "echo");
    // Choosing a type puts its sample payload in an untouched payload field.
    expect(screen.getByLabelText<HTMLTextAreaElement>("Payload (JSON)").value).toBe(
      '{ "message": "hello" }',
    );
    await userEvent.type(screen.getByLabelText("Title"), "say hi");
    setText("Payload (JSON)", '{ "message": "hi", "n": [1, 2] }');
    setText("Max attempts", "5");
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));

    expect(await screen.findByText(/Task created/)).toBeDefined();
    expect(screen.getByRole("link", { name: "say hi" }).getAttribute("href")).toBe(
      `/tasks/${created.id}`,
    );
    const [post] = api.requestsTo("POST", "/api/tasks");
    expect(post?.body).toEqual({
      type: "echo",
      title: "say hi",
      payload: { message: "hi", n: [1, 2] },
      max_attempts: 5,
    });
    expect(post?.headers.get("idempotency-key")).toMatch(/^[0-9a-f-]{32,36}$/);
    expect(onCreated).toHaveBeenCalledWith(created);
  });

  it("when the API refuses the payload, then its field error shows at the payload", async () => {
    const api = fakeApi();
    api.on("POST", "/api/tasks", () =>
      problem(422, "invalid payload for this task type", [
        { path: "/payload/ms", message: "Expected integer" },
      ]),
    );
    renderForm();
    setText("Payload (JSON)", '{ "ms": "soon" }');
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));

    expect(await screen.findByText("ms: Expected integer")).toBeDefined();
    expect(screen.getByRole("alert").textContent).toContain("Invalid payload for this task type.");
    expect(screen.getByLabelText("Payload (JSON)").getAttribute("aria-invalid")).toBe("true");
  });

  it("when the network fails, then the retried submit carries the same Idempotency-Key", async () => {
    const api = fakeApi();
    let calls = 0;
    api.on("POST", "/api/tasks", () => {
      calls += 1;
      if (calls === 1) throw new TypeError("Failed to fetch");
      return json(
        {
          id: "0190a000-0000-7000-8000-00000000abce",
          type: "sleep",
          title: null,
          status: "PENDING",
          created_at: "2026-01-01T12:00:00.000Z",
        },
        202,
      );
    });
    renderForm();
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect((await screen.findByRole("alert")).textContent).toContain("cannot be reached");
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect(await screen.findByText(/Task created/)).toBeDefined();

    const [first, second] = api.requestsTo("POST", "/api/tasks");
    expect(first?.headers.get("idempotency-key")).toBeTruthy();
    expect(second?.headers.get("idempotency-key")).toBe(first?.headers.get("idempotency-key"));
  });
});
