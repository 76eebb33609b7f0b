import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { engineAvailable, killAllRoles, newCredentials } from "@taskflow/testing";
import { type Browser, chromium, type Page, type Response } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it, type TestContext } from "vitest";
import { nginxForTests } from "../../../deploy/nginx/test/nginx-fixture.ts";
import {
  type BrowserStack,
  CHROMIUM_ARGS,
  chromiumForTests,
  distDir,
  ensureWebBuilt,
  openBrowserStack,
  screenshotDir,
} from "./browser-fixture.ts";

/**
 * The web app end to end, as a user meets it: Debian's Chromium (driven by playwright-core)
 * through nginx, which serves services/web/dist and proxies /api to a `taskflow api`; behind
 * it the relay, worker, validator, notifier, mailer and analytics, each a process, on
 * PostgreSQL, RabbitMQ and Redis. One journey: a new user signs up and in, creates tasks and
 * watches them finish live, opens one; places orders; then an operator opens analytics and
 * the monitor. A full-page screenshot of each page visited lands in test-results/browser/.
 *
 * Skipped without nginx, Chromium or the engines, unless TASKFLOW_REQUIRE_SERVICES=1.
 */
const nginx = nginxForTests();
const chromiumPath = chromiumForTests();
const engines =
  nginx && chromiumPath
    ? (
        await Promise.all([
          engineAvailable("postgres"),
          engineAvailable("rabbitmq"),
          engineAvailable("redis"),
        ])
      ).every(Boolean)
    : false;

/** Waits in a busy machine's time: the pipeline runs through several processes. */
const LONG = 90_000;
/** A step: a few waits of up to LONG each. */
const STEP_TIMEOUT = 240_000;

describe.skipIf(!nginx || !chromiumPath || !engines)(
  "the web app in Chromium, through nginx, on the real engines",
  () => {
    let stack: BrowserStack;
    let browser: Browser;
    let page: Page;
    /** What went wrong in the page: uncaught errors, console errors, 5xx answers. */
    const pageProblems: string[] = [];
    let shots = 0;
    const customer = newCredentials("browser");
    /** What the customer's steps did, for the operator's figures. */
    const done = { tasks: 0, orders: 0, revenueCents: 0 };

    beforeAll(async () => {
      const began = Date.now();
      const seconds = () => `${((Date.now() - began) / 1000).toFixed(1)} s`;
      rmSync(screenshotDir, { recursive: true, force: true });
      mkdirSync(screenshotDir, { recursive: true });
      const built = `web app ${await ensureWebBuilt()} (${seconds()})`;
      [stack, browser] = await Promise.all([
        openBrowserStack({ nginx: nginx as string, webRoot: distDir }),
        chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS, timeout: LONG }),
      ]);
      for (const note of [built, `everything running (${seconds()})`, ...stack.notes]) {
        console.info(`browser e2e: ${note}`);
      }
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      page = await context.newPage();
      page.setDefaultTimeout(30_000);
      page.on("pageerror", (error) => pageProblems.push(`uncaught: ${error.message}`));
      page.on("console", (message) => {
        // A failed request is logged too; 5xx answers are counted below, and 4xx are expected
        // (the session asks the monitor whether the user is an operator: 403 to a customer).
        if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
          pageProblems.push(`console: ${message.text()}`);
        }
      });
      page.on("response", (response) => {
        if (response.status() >= 500) {
          pageProblems.push(
            `${response.status()} ${response.request().method()} ${response.url()}`,
          );
        }
      });
    }, 600_000);

    afterAll(async () => {
      await browser?.close().catch(() => {});
      await stack?.cleanup();
      await killAllRoles();
    }, 120_000);

    beforeEach(({ onTestFailed }) => {
      onTestFailed(async () => {
        const file = await screenshot("failed").catch((error: Error) => error.message);
        console.error(
          `browser e2e: the page at ${page?.url()} (${file}); its problems:\n${pageProblems.join("\n")}\n${stack?.diagnose()}`,
        );
      });
    });

    /** A full-page screenshot, numbered in the order of the journey. */
    const screenshot = async (name: string) => {
      shots++;
      const file = path.join(screenshotDir, `${String(shots).padStart(2, "0")}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    };

    /**
     * The journey's steps depend on the ones before: after a failure, the rest of its chain
     * is skipped (one failure, not a cascade of them).
     */
    const chain = () => {
      let failed: string | undefined;
      return (name: string, step: () => Promise<void>) =>
        it(
          name,
          async (context: TestContext) => {
            if (failed) context.skip(`an earlier step failed: ${failed}`);
            // Cleared on success only: a step that timed out counts as failed.
            failed = name;
            await step();
            failed = undefined;
          },
          STEP_TIMEOUT,
        );
    };
    const customerStep = chain();

    customerStep(
      "when a new user fills in the sign-up form, then their account is made and they land on their tasks, signed in",
      async () => {
        await page.goto(`${stack.url}/sign-up`);
        await page.getByRole("heading", { level: 1, name: "Create an account" }).waitFor();
        await page.getByLabel("Name", { exact: true }).fill(customer.name);
        await page.getByLabel("Email", { exact: true }).fill(customer.email);
        await page.getByLabel("Password", { exact: true }).fill(customer.password);
        await screenshot("sign-up");
        await page.getByRole("button", { name: "Create account" }).click();
        await page.waitForURL(`${stack.url}/tasks`, { timeout: LONG });
        await page.getByRole("heading", { level: 1, name: "Tasks" }).waitFor();
        await page.getByText("No tasks yet.").waitFor();
        // The header names who is signed in (the email as its title).
        expect(await page.getByTitle(customer.email).textContent()).toBe(customer.name);
      },
    );

    customerStep(
      "when they sign out and sign in again with the form, then they are back on their tasks",
      async () => {
        await page.getByRole("button", { name: "Sign out" }).click();
        await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
        await page.getByLabel("Email", { exact: true }).fill(customer.email);
        await page.getByLabel("Password", { exact: true }).fill(customer.password);
        await screenshot("sign-in");
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.waitForURL(`${stack.url}/tasks`, { timeout: LONG });
        await page.getByRole("heading", { level: 1, name: "Tasks" }).waitFor();
        // The live stream is open before any task exists: every change must come through it.
        await page.getByTitle("Live updates").getByText("Live", { exact: true }).waitFor({
          timeout: LONG,
        });
      },
    );

    const titles = ["nap 1", "nap 2", "nap 3"].map((t) => `${t} ${customer.name.split(" ")[1]}`);
    /** The row of the task list that shows `title`. */
    const taskRow = (title: string) =>
      page.getByRole("row").filter({ has: page.getByRole("link", { name: title, exact: true }) });

    customerStep(
      "when they create three sleep tasks, then each shows up and turns Done in the list without a reload (the live stream), and the counts follow",
      async () => {
        // Set in this document: a reload or a navigation away would lose it.
        await page.evaluate(() => {
          (globalThis as Record<string, unknown>).__journeyMarker = "same document";
        });
        // Every task the page reads from now on (list or one task), with its status then.
        const read: Promise<string[]>[] = [];
        const onResponse = (response: Response) => {
          const { pathname } = new URL(response.url());
          if (
            response.request().method() !== "GET" ||
            !/^\/api\/tasks(\/[0-9a-f-]{36})?$/.test(pathname)
          )
            return;
          read.push(
            response.json().then(
              (body: { status?: string; items?: { status: string }[] }) =>
                body.items ? body.items.map((t) => t.status) : [String(body.status)],
              () => [],
            ),
          );
        };
        page.on("response", onResponse);
        for (const [i, title] of titles.entries()) {
          await page.getByLabel("Type", { exact: true }).selectOption("sleep");
          await page.getByLabel("Title", { exact: true }).fill(title);
          await page
            .getByLabel("Payload (JSON)", { exact: true })
            .fill(`{ "ms": ${800 + i * 200} }`);
          await page.getByRole("button", { name: "Create task" }).click();
          await page
            .getByRole("status")
            .filter({ has: page.getByRole("link", { name: title, exact: true }) })
            .waitFor({ timeout: LONG });
          await taskRow(title).waitFor({ timeout: LONG });
        }
        await screenshot("tasks-created");
        for (const title of titles) {
          await taskRow(title).getByText("Done", { exact: true }).waitFor({ timeout: LONG });
        }
        await page
          .getByTestId("count-DONE")
          .filter({ hasText: new RegExp(`^${titles.length}$`) })
          .waitFor({ timeout: LONG });
        done.tasks = titles.length;
        page.off("response", onResponse);
        expect(
          await page.evaluate(() => (globalThis as Record<string, unknown>).__journeyMarker),
        ).toBe("same document");
        // The page read each task as it was created, before it ran: "Done" came by the stream.
        const statuses = (await Promise.all(read)).flat();
        expect(statuses.length).toBeGreaterThanOrEqual(titles.length);
        expect(statuses).not.toContain("DONE");
        expect(await page.getByRole("row").count()).toBe(1 + titles.length);
        await screenshot("tasks-done");
      },
    );

    customerStep(
      "when they open a task, then its detail page shows it Done with its result and timeline",
      async () => {
        const title = titles[0] as string;
        await taskRow(title).getByRole("link", { name: title, exact: true }).click();
        await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
        await page.getByRole("heading", { level: 1, name: title }).waitFor();
        const details = page.getByRole("region", { name: "Details" });
        await details.getByText("Done", { exact: true }).waitFor();
        await details.getByText("sleep", { exact: true }).waitFor();
        const timeline = page.getByRole("region", { name: "Timeline" });
        await timeline.getByText("Created").waitFor();
        await timeline.getByText("Done").waitFor();
        const result = await page
          .getByRole("region", { name: "Result" })
          .locator("pre")
          .textContent();
        // The worker ran it with its payload: the sleep handler's result.
        expect(result).toMatch(/"slept_ms": 800\b/);
        await screenshot("task-detail");
      },
    );

    const nav = (name: string) =>
      page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
    const bell = (name: string) => page.getByRole("link", { name, exact: true });
    const cartLine = (product: string) =>
      page
        .getByRole("list", { name: "Items in your cart" })
        .getByRole("listitem")
        .filter({ hasText: product });
    const markDocument = () =>
      page.evaluate(() => {
        (globalThis as Record<string, unknown>).__ordersMarker = "same document";
      });
    const sameDocument = () =>
      page.evaluate(() => (globalThis as Record<string, unknown>).__ordersMarker);

    customerStep(
      "when they put two products from the catalog in the cart and place the order, then it is confirmed with the validator's prices, and the bell counts its notification without a reload",
      async () => {
        await nav("Orders").click();
        await page.getByRole("heading", { level: 1, name: "Orders" }).waitFor();
        await markDocument();
        const catalog = page.getByRole("list", { name: "Products" });
        await catalog.waitFor({ timeout: LONG });
        await bell("Notifications").waitFor();
        // 2 × Wireless mouse (€29.50) and 1 × USB-C cable, 2 m (€12.99): €71.99.
        await page.getByRole("button", { name: "Add Wireless mouse to cart" }).click();
        await page.getByRole("button", { name: "Add Wireless mouse to cart" }).click();
        await page.getByRole("button", { name: "Add USB-C cable, 2 m to cart" }).click();
        expect(await page.getByLabel("Quantity of Wireless mouse").inputValue()).toBe("2");
        expect(await page.getByLabel("Quantity of USB-C cable, 2 m").inputValue()).toBe("1");
        await screenshot("orders-cart");

        await page.getByRole("button", { name: "Place order" }).click();
        const cart = page.getByRole("region", { name: "Cart" });
        const confirmed = cart.getByRole("status").filter({ hasText: "Order confirmed." });
        await confirmed.waitFor({ timeout: LONG });
        expect(await confirmed.textContent()).toContain("71.99");
        done.orders += 1;
        done.revenueCents += 7_199;
        // The order's notification comes by the relay, the event bus, the notifier and the
        // live stream.
        await bell("Notifications, 1 unread").waitFor({ timeout: LONG });
        expect(await sameDocument()).toBe("same document");
        const history = page.getByRole("region", { name: "Order history" });
        await history.getByRole("link", { name: /^Order [0-9a-f]{8}$/ }).waitFor();
        await screenshot("order-confirmed");
      },
    );

    customerStep(
      "when they open the bell, then the notification of their order is there, unread, with a link to the order",
      async () => {
        await bell("Notifications, 1 unread").click();
        await page.getByRole("heading", { level: 1, name: "Notifications" }).waitFor();
        const list = page.getByRole("list", { name: "Notifications, newest first" });
        const items = list.getByRole("listitem");
        await items.first().waitFor({ timeout: LONG });
        expect(await items.count()).toBe(1);
        await items.first().getByText("Unread", { exact: true }).waitFor();
        await items.first().getByRole("link", { name: "View order" }).waitFor();
        await screenshot("notifications");
      },
    );

    customerStep(
      "when they order more LED desk lamps than are in stock beside a mouse, then the validator's error shows beside the lamp's line, not the mouse's, and nothing is ordered",
      async () => {
        await nav("Orders").click();
        await page.getByRole("heading", { level: 1, name: "Orders" }).waitFor();
        await page.getByRole("list", { name: "Products" }).waitFor({ timeout: LONG });
        await page.getByRole("button", { name: "Add Wireless mouse to cart" }).click();
        await page.getByRole("button", { name: "Add LED desk lamp to cart" }).click();
        // Two in stock (the catalog says so); the validator counts, not the page.
        await page.getByLabel("Quantity of LED desk lamp").fill("3");
        await page.getByRole("button", { name: "Place order" }).click();

        const lamp = cartLine("LED desk lamp");
        await lamp.getByText(/2 in stock/).waitFor({ timeout: LONG });
        const lampQuantity = page.getByLabel("Quantity of LED desk lamp");
        expect(await lampQuantity.getAttribute("aria-invalid")).toBe("true");
        // The error is the field's description: read with it by a screen reader.
        const described = await lampQuantity.evaluate((input) =>
          (input.getAttribute("aria-describedby") ?? "")
            .split(" ")
            .map((id: string) => input.ownerDocument.getElementById(id)?.textContent ?? "")
            .join(" "),
        );
        expect(described).toMatch(/2 in stock/);
        const mouseQuantity = page.getByLabel("Quantity of Wireless mouse");
        expect(await mouseQuantity.getAttribute("aria-invalid")).toBeNull();
        expect(
          await cartLine("Wireless mouse")
            .getByText(/in stock/)
            .count(),
        ).toBe(0);
        // Still in the cart, and not in the history.
        expect(await lampQuantity.inputValue()).toBe("3");
        const history = page.getByRole("region", { name: "Order history" });
        expect(await history.getByRole("link", { name: /^Order [0-9a-f]{8}$/ }).count()).toBe(1);
        await screenshot("order-invalid");
      },
    );

    customerStep(
      "when they open Mail, then the mail sink holds their welcome email and their order's confirmation",
      async () => {
        await nav("Mail").click();
        await page.getByRole("heading", { level: 1, name: "Mail" }).waitFor();
        const inbox = page.getByRole("region", { name: "Inbox" });
        const confirmation = inbox
          .getByRole("link")
          .filter({ hasText: customer.email })
          .filter({ hasText: /order is confirmed/ });
        await confirmation.waitFor({ timeout: LONG });
        await inbox
          .getByRole("link")
          .filter({ hasText: customer.email })
          .filter({ hasNotText: /order/ })
          .first()
          .waitFor();
        await confirmation.click();
        const reader = page.getByRole("region").filter({
          has: page.getByRole("heading", { level: 2, name: /order is confirmed/ }),
        });
        await reader.waitFor();
        expect(await reader.textContent()).toContain(customer.email);
        // The HTML part, in its sandboxed frame.
        await page
          .getByTitle(/^Email: Your TaskFlow order is confirmed/)
          .contentFrame()
          .getByText(/Order reference: [0-9a-f-]{36}/)
          .waitFor();
        await screenshot("mail");
      },
    );

    const operatorStep = chain();

    operatorStep(
      "when an operator (made with `taskflow user create`) signs in, then Analytics and Monitor are in their navigation",
      async () => {
        const signOut = page.getByRole("button", { name: "Sign out" });
        if (await signOut.isVisible()) await signOut.click();
        else await page.goto(`${stack.url}/sign-in`);
        await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
        await page.getByLabel("Email", { exact: true }).fill(stack.operator.email);
        await page.getByLabel("Password", { exact: true }).fill(stack.operator.password);
        await page.getByRole("button", { name: "Sign in" }).click();
        // Back where sign-out left (the mail); operators' links once the API says so.
        await nav("Analytics").waitFor({ timeout: LONG });
        await nav("Monitor").waitFor();
      },
    );

    /** The value of a figure (a <dt> and its <dd>) in `scope`. */
    const figure = (scope: ReturnType<Page["getByRole"]>, label: string) =>
      scope
        .locator("div")
        .filter({ has: page.getByRole("term").filter({ hasText: new RegExp(`^${label}$`) }) })
        .getByRole("definition");

    operatorStep(
      "when the operator opens Analytics, then the customer's order, its revenue and products, and the completed tasks are counted",
      async () => {
        expect(done.orders, "the customer's orders were placed").toBeGreaterThan(0);
        await nav("Analytics").click();
        await page.getByRole("heading", { level: 1, name: "Analytics" }).waitFor();
        const totals = page.getByRole("region", { name: "In this window" });
        // The analytics role counts the event stream; the page reads it again every 10 s.
        await figure(totals, "Orders")
          .filter({ hasText: new RegExp(`^${done.orders}$`) })
          .waitFor({ timeout: LONG });
        await figure(totals, "Tasks completed")
          .filter({ hasText: new RegExp(`^${done.tasks}$`) })
          .waitFor({ timeout: LONG });
        expect(await figure(totals, "Revenue").textContent()).toContain(
          (done.revenueCents / 100).toFixed(2),
        );
        const products = page.getByRole("region", { name: "Top products" });
        const mouse = products.getByRole("row").filter({ hasText: "Wireless mouse" });
        await mouse.waitFor();
        expect(await mouse.getByRole("cell").first().textContent()).toBe("2");
        await products.getByRole("row").filter({ hasText: "USB-C cable, 2 m" }).waitFor();
        await screenshot("analytics");
      },
    );

    operatorStep(
      "when the operator opens the Monitor, then every process of this run is online, by its pid, and the queues are RabbitMQ's and Redis's",
      async () => {
        await nav("Monitor").click();
        await page.getByRole("heading", { level: 1, name: "Monitor" }).waitFor();
        const workers = page.getByRole("region", { name: "Workers" });
        const roles = Object.entries(stack.roles);
        await workers
          .getByText(`${roles.length} of ${roles.length}`, { exact: true })
          .waitFor({ timeout: LONG });
        for (const [role, process] of roles) {
          const row = workers
            .getByRole("row")
            .filter({ has: page.getByRole("rowheader", { name: new RegExp(`^${role}\\b`) }) })
            .filter({ hasText: `pid ${process.pid}` });
          await row.getByText("Online", { exact: true }).waitFor();
        }
        const queues = page.getByRole("region", { name: "Queues" });
        const queue = (name: string | undefined) =>
          queues.getByRole("listitem").filter({ hasText: String(name) });
        await queue(stack.env.TASKFLOW_TASK_QUEUE)
          .getByText("Engine: rabbitmq", { exact: true })
          .waitFor({ timeout: LONG });
        await queue(stack.env.TASKFLOW_JOB_QUEUE)
          .getByText("Engine: redis", { exact: true })
          .waitFor();
        await screenshot("monitor");
      },
    );

    it("then no page threw, logged an error or got a 5xx answer on the way", () => {
      expect(pageProblems).toEqual([]);
    });
  },
);
