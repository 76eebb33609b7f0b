import { ApiProblem, describeProblem } from "../../api/client.ts";
import type { CartLine } from "./cart.ts";

/** What is wrong with one cart line: its quantity, or the product itself (sku). */
export interface LineProblem {
  quantity?: string;
  product?: string;
}

export interface OrderProblems {
  /** By SKU: the cart's lines are keyed by product, so an error stays with its line. */
  lines: Record<string, LineProblem>;
  note?: string;
  /** For the form's summary (focused and announced). */
  summary: string[];
}

const ITEM_POINTER = /^\/(?:body\/)?items\/(\d+)(?:\/(.*))?$/;

/**
 * A failed order as the form shows it. A 422's field errors name the request's items by index
 * (`/body/items/1/quantity`, `/body/items/2/sku`): `submitted` is the cart as it was sent, so
 * each error goes beside the line it names. Errors about the whole order go to the summary;
 * a 503 says the validator is away and when to try again (its Retry-After).
 */
export function orderProblems(error: unknown, submitted: readonly CartLine[]): OrderProblems {
  if (!(error instanceof ApiProblem)) return { lines: {}, summary: [describeProblem(error)] };
  if (error.status === 503) {
    const when = error.retryAfterSeconds ? `in ${error.retryAfterSeconds} s` : "in a moment";
    return {
      lines: {},
      summary: [`The validator is unavailable, try again ${when}. Nothing was stored.`],
    };
  }
  if (error.status !== 422) return { lines: {}, summary: [describeProblem(error)] };

  const lines: Record<string, LineProblem> = {};
  const others: string[] = [];
  let note: string | undefined;
  for (const problem of error.errors) {
    const item = ITEM_POINTER.exec(problem.path);
    const line = item ? submitted[Number(item[1])] : undefined;
    if (item && line) {
      const entry: LineProblem = lines[line.sku] ?? {};
      lines[line.sku] = entry;
      const field = item[2] ?? "";
      if (field === "quantity") entry.quantity = join(entry.quantity, problem.message);
      else
        entry.product = join(
          entry.product,
          field && field !== "sku" ? `${field}: ${problem.message}` : problem.message,
        );
    } else if (/^\/(?:body\/)?note(\/|$)/.test(problem.path)) {
      note = join(note, problem.message);
    } else {
      const where = problem.path.replace(/^\/(body\/)?/, "");
      others.push(where ? `${where}: ${problem.message}` : problem.message);
    }
  }
  const count = Object.keys(lines).length;
  const lead = describeProblem(error).replace(/\.$/, "");
  const first =
    count === 0
      ? `${lead}.`
      : `${lead}: ${count === 1 ? "1 line" : `${count} lines`} of your cart ${count === 1 ? "needs" : "need"} a change.`;
  return { lines, ...(note ? { note } : {}), summary: [first, ...others] };
}

function join(existing: string | undefined, message: string): string {
  return existing ? `${existing}; ${message}` : message;
}
