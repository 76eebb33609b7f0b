import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { ADA, descriptionOf, fakeApi, json, problem } from "../../test-support/fake-api.ts";
import { renderApp } from "../../test-support/render-app.tsx";
import type { Order, Product } from "./orders.api.ts";

const PRODUCTS: Product[] = [
  { sku: "KB-101", name: "Keyboard", price_cents: 8_999, currency: "EUR", stock: 120 },
  { sku: "CB-USB", name: "USB cable", price_cents: 1_299, currency: "EUR", stock: 1_000 },
  { sku: "LT-LED", name: "LED light", price_cents: 3_450, currency: "EUR", stock: 2 },
  { sku: "GONE-1", name: "Sold out lamp", price_cents: 500, currency: "EUR", stock: 0 },
];

function anOrder(overrides: Partial<Order> = {}): Order {
  return {
    id: "0190a000-0000-7000-8000-0000c0ffee01",
    status: "CONFIRMED",
    items: [
      {
        sku: "KB-101",
        name: "Keyboard",
        quantity: 2,
        unit_price_cents: 8_999,
        line_total_cents: 17_998,
      },
    ],
    total_cents: 17_998,
    currency: "EUR",
    note: null,
    created_at: "2026-01-01T12:00:00.000Z",
    ...overrides,
  };
}

function cartLines(): HTMLElement[] {
  return within(screen.getByRole("list", { name: "Items in your cart" })).getAllByRole("listitem");
}

async function addToCart(...names: string[]) {
  for (const name of names) {
    await userEvent.click(await screen.findByRole("button", { name: `Add ${name} to cart` }));
  }
}

function ordersApi(options: { history?: Order[] } = {}) {
  const api = fakeApi({ signedIn: true });
  api.on("GET", "/api/products", () => json(PRODUCTS));
  api.on("GET", "/api/orders", () => json({ items: options.history ?? [], next_cursor: null }));
  return api;
}

describe("the orders page", () => {
  it("when the validator refuses lines, then each error shows beside the line it names", async () => {
    const api = ordersApi();
    api.on("POST", "/api/orders", () =>
      problem(422, "the order cannot be placed", [
        { path: "/body/items/0/sku", message: "no product KB-101 any more" },
        { path: "/body/items/2/quantity", message: "3 of LT-LED asked, 2 in stock" },
      ]),
    );
    renderApp("/orders", { signedIn: true });
    await addToCart("Keyboard", "USB cable", "LED light", "LED light", "LED light");

    const [keyboard, cable, light] = cartLines();
    if (!keyboard || !cable || !light) throw new Error("three cart lines expected");
    expect(within(light).getByLabelText<HTMLInputElement>("Quantity of LED light").value).toBe("3");
    expect(screen.getByRole("button", { name: "Add Sold out lamp to cart" })).toHaveProperty(
      "disabled",
      true,
    );

    await userEvent.click(screen.getByRole("button", { name: "Place order" }));

    const summary = await screen.findByRole("alert");
    expect(summary.textContent).toBe(
      "The order cannot be placed: 2 lines of your cart need a change.",
    );
    expect(document.activeElement).toBe(summary);
    // Beside the right lines, and read with their quantity fields.
    expect(within(keyboard).getByText("no product KB-101 any more")).toBeDefined();
    expect(within(light).getByText("3 of LT-LED asked, 2 in stock")).toBeDefined();
    expect(within(cable).queryByText(/asked|any more/)).toBeNull();
    const lightQuantity = within(light).getByLabelText("Quantity of LED light");
    expect(lightQuantity.getAttribute("aria-invalid")).toBe("true");
    expect(descriptionOf(lightQuantity)).toBe("3 of LT-LED asked, 2 in stock");
    expect(
      within(cable).getByLabelText("Quantity of USB cable").getAttribute("aria-invalid"),
    ).toBeNull();

    const [post] = api.requestsTo("POST", "/api/orders");
    expect(post?.body).toEqual({
      items: [
        { sku: "KB-101", quantity: 1 },
        { sku: "CB-USB", quantity: 1 },
        { sku: "LT-LED", quantity: 3 },
      ],
    });
    expect(post?.headers.get("idempotency-key")).toMatch(/^[0-9a-f-]{32,36}$/);

    // Removing the first line leaves each error with its own line.
    await userEvent.click(within(keyboard).getByRole("button", { name: "Remove Keyboard" }));
    const [cableAfter, lightAfter] = cartLines();
    expect(
      within(lightAfter as HTMLElement).getByText("3 of LT-LED asked, 2 in stock"),
    ).toBeDefined();
    expect(within(cableAfter as HTMLElement).queryByText(/asked/)).toBeNull();

    // Fixing the quantity clears that line's error.
    const quantity = within(lightAfter as HTMLElement).getByLabelText("Quantity of LED light");
    await userEvent.clear(quantity);
    await userEvent.type(quantity, "2");
    expect(screen.queryByText("3 of LT-LED asked, 2 in stock")).toBeNull();
  });

  it("checks quantities before sending: a line with none says so at its field", async () => {
    const api = ordersApi();
    renderApp("/orders", { signedIn: true });
    await addToCart("Keyboard");
    const quantity = screen.getByLabelText("Quantity of Keyboard");
    await userEvent.clear(quantity);
    await userEvent.click(screen.getByRole("button", { name: "Place order" }));

    expect(quantity.getAttribute("aria-invalid")).toBe("true");
    expect(descriptionOf(quantity)).toBe("Enter a whole number from 1 to 1000.");
    expect(document.activeElement).toBe(quantity);
    expect(api.requestsTo("POST", "/api/orders")).toHaveLength(0);
  });

  it("when the validator is away (503), then it says to try again after Retry-After; then the order is confirmed", async () => {
    const api = ordersApi();
    const placed = anOrder({ note: "by the door" });
    let available = false;
    api.on("POST", "/api/orders", () =>
      available
        ? json(placed, 201)
        : problem(
            503,
            "order validation is unavailable; nothing was stored, retry shortly",
            undefined,
            {
              "retry-after": "2",
            },
          ),
    );
    renderApp("/orders", { signedIn: true });
    await addToCart("Keyboard", "Keyboard");
    expect(screen.getByText(/179\.98/, { selector: ".cart-total strong" })).toBeDefined();
    await userEvent.type(screen.getByLabelText("Note"), "by the door");
    await userEvent.click(screen.getByRole("button", { name: "Place order" }));

    expect((await screen.findByRole("alert")).textContent).toBe(
      "The validator is unavailable, try again in 2 s. Nothing was stored.",
    );
    // The cart is kept for the tab (sessionStorage), so a reload keeps it too.
    const saved = JSON.parse(sessionStorage.getItem(`taskflow.cart.${ADA.id}`) ?? "[]");
    expect(saved).toEqual([expect.objectContaining({ sku: "KB-101", quantity: "2" })]);

    available = true;
    await userEvent.click(screen.getByRole("button", { name: "Place order" }));

    const status = (await screen.findByText("Order confirmed.")).closest<HTMLElement>(
      "[role=status]",
    );
    if (!status) throw new Error("no status region");
    expect(status.textContent).toMatch(/Order c0ffee01, .*179\.98/);
    expect(within(status).getByRole("link", { name: "Order c0ffee01" }).getAttribute("href")).toBe(
      `/orders/${placed.id}`,
    );
    expect(screen.getByText("Your cart is empty.")).toBeDefined();
    expect(sessionStorage.getItem(`taskflow.cart.${ADA.id}`)).toBeNull();
    // And it heads the history.
    const history = screen.getByRole("table", { name: "Your orders, newest first" });
    expect(within(history).getByRole("link", { name: "Order c0ffee01" })).toBeDefined();

    const [first, second] = api.requestsTo("POST", "/api/orders");
    expect(second?.body).toEqual({ items: [{ sku: "KB-101", quantity: 2 }], note: "by the door" });
    // The 503 stored nothing: the second attempt is a request of its own.
    expect(second?.headers.get("idempotency-key")).not.toBe(first?.headers.get("idempotency-key"));
  });

  it("pages the history with Load more and opens an order's detail", async () => {
    const api = ordersApi();
    const newer = anOrder({ id: "0190a000-0000-7000-8000-0000000000a2" });
    const older = anOrder({
      id: "0190a000-0000-7000-8000-0000000000a1",
      items: [
        {
          sku: "CB-USB",
          name: "USB cable",
          quantity: 3,
          unit_price_cents: 1_299,
          line_total_cents: 3_897,
        },
        {
          sku: "LT-LED",
          name: "LED light",
          quantity: 1,
          unit_price_cents: 3_450,
          line_total_cents: 3_450,
        },
      ],
      total_cents: 7_347,
      note: "gift",
    });
    api.on("GET", "/api/orders", (request) =>
      request.query.get("cursor") === "c1"
        ? json({ items: [older], next_cursor: null })
        : json({ items: [newer], next_cursor: "c1" }),
    );
    api.on("GET", "/api/orders/:id", () => json(older));
    renderApp("/orders", { signedIn: true });

    expect(await screen.findByText("Your cart is empty.")).toBeDefined();
    await userEvent.click(await screen.findByRole("button", { name: "Load more" }));
    await userEvent.click(await screen.findByRole("link", { name: "Order 000000a1" }));

    expect(await screen.findByRole("heading", { level: 1, name: "Order 000000a1" })).toBeDefined();
    const lines = screen.getByRole("table", { name: "Order 000000a1: its lines" });
    expect(within(lines).getByRole("rowheader", { name: /USB cable/ })).toBeDefined();
    expect(within(lines).getByText(/73\.47/)).toBeDefined();
    expect(screen.getByText("gift")).toBeDefined();
    expect(api.requestsTo("GET", `/api/orders/${older.id}`)).toHaveLength(1);
  });

  it("shows the catalog's error with a way to try again, and a missing order as such", async () => {
    const api = ordersApi();
    let down = true;
    api.on("GET", "/api/products", () =>
      down
        ? problem(503, "order validation is unavailable; nothing was stored, retry shortly")
        : json(PRODUCTS),
    );
    api.on("GET", "/api/orders/:id", () => problem(404, "no such order"));
    const view = renderApp("/orders", { signedIn: true });

    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("The catalog is unavailable.");
    down = false;
    await userEvent.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findByRole("button", { name: "Add Keyboard to cart" })).toBeDefined();
    view.unmount();

    renderApp("/orders/nope", { signedIn: true });
    expect(await screen.findByRole("heading", { level: 1, name: "No such order" })).toBeDefined();
    await waitFor(() => expect(api.requestsTo("GET", "/api/orders/nope")).toHaveLength(1));
  });
});
