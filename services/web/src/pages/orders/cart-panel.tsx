import { type FormEvent, useId, useRef, useState } from "react";
import { Link } from "react-router";
import { ApiProblem } from "../../api/client.ts";
import { FormErrors, FormField } from "../../components/form-field.tsx";
import { formatMoney, formatMoneyByCurrency } from "../../components/money.ts";
import { EmptyState } from "../../components/page-state.tsx";
import { useFormProblems } from "../auth/use-form-problems.ts";
import { newIdempotencyKey } from "../tasks/tasks.api.ts";
import {
  type CartLine,
  cartTotals,
  lineTotal,
  MAX_QUANTITY,
  parseQuantity,
  type useCart,
} from "./cart.ts";
import { OrderLines } from "./order-lines.tsx";
import { type LineProblem, orderProblems } from "./order-problems.ts";
import { type Order, orderName, ordersApi } from "./orders.api.ts";

type Cart = ReturnType<typeof useCart>;

const QUANTITY_HINT = `Enter a whole number from 1 to ${MAX_QUANTITY}.`;

/**
 * The cart as a form: change a line's quantity, remove it, add a note, place the order. The
 * validator's errors show beside the line they name; a submit that got no answer is sent again
 * with the same Idempotency-Key, so it cannot place two orders.
 */
export function CartPanel({ cart, onPlaced }: { cart: Cart; onPlaced: (order: Order) => void }) {
  const headingId = useId();
  const heading = useRef<HTMLHeadingElement>(null);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [lineProblems, setLineProblems] = useState<Record<string, LineProblem>>({});
  const [placed, setPlaced] = useState<Order>();
  const pendingKey = useRef<string | undefined>(undefined);
  const problems = useFormProblems<"note">();

  const edited = () => {
    // Another request now: a new key.
    pendingKey.current = undefined;
    setPlaced(undefined);
  };

  const clearLine = (sku: string) =>
    setLineProblems((current) => {
      if (!current[sku]) return current;
      const { [sku]: _, ...rest } = current;
      return rest;
    });

  const changeQuantity = (sku: string, quantity: string) => {
    cart.setQuantity(sku, quantity);
    clearLine(sku);
    edited();
  };

  const remove = (line: CartLine) => {
    cart.remove(line.sku);
    clearLine(line.sku);
    edited();
    // Its button is gone: focus goes to the cart's heading.
    heading.current?.focus();
  };

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setPlaced(undefined);
    const submitted = cart.lines;
    const invalid: Record<string, LineProblem> = {};
    for (const line of submitted) {
      if (parseQuantity(line.quantity) === undefined)
        invalid[line.sku] = { quantity: QUANTITY_HINT };
    }
    const fields = note.length > 1000 ? { note: "At most 1,000 characters." } : {};
    if (Object.keys(invalid).length > 0 || fields.note) {
      setLineProblems(invalid);
      return problems.report({ fields });
    }

    pendingKey.current ??= newIdempotencyKey();
    setBusy(true);
    try {
      const order = await ordersApi.place(
        {
          items: submitted.map((line) => ({ sku: line.sku, quantity: Number(line.quantity) })),
          ...(note.trim() ? { note: note.trim() } : {}),
        },
        pendingKey.current,
      );
      pendingKey.current = undefined;
      problems.clear();
      setLineProblems({});
      setNote("");
      cart.clear();
      setPlaced(order);
      onPlaced(order);
    } catch (error) {
      // Only a request that got no answer may have been stored: keep its key for the retry.
      if (!(error instanceof ApiProblem && error.status === 0)) pendingKey.current = undefined;
      const found = orderProblems(error, submitted);
      setLineProblems(found.lines);
      problems.report({ fields: found.note ? { note: found.note } : {}, summary: found.summary });
    } finally {
      setBusy(false);
    }
  };

  const totals = cartTotals(cart.lines);

  return (
    <section className="card cart" aria-labelledby={headingId}>
      <h2 id={headingId} ref={heading} tabIndex={-1}>
        Cart
      </h2>
      <p role="status" className="form-status">
        {placed && (
          <>
            <strong>Order confirmed.</strong>{" "}
            <Link to={`/orders/${placed.id}`}>{orderName(placed)}</Link>,{" "}
            {formatMoney(placed.total_cents, placed.currency)}.
          </>
        )}
      </p>
      {placed && <OrderLines order={placed} caption={`${orderName(placed)}: what was ordered`} />}
      {cart.lines.length === 0 ? (
        <EmptyState title="Your cart is empty.">
          <p>Add products from the catalog.</p>
        </EmptyState>
      ) : (
        <form ref={problems.formRef} onSubmit={onSubmit} noValidate aria-busy={busy}>
          <FormErrors messages={problems.summary} summaryRef={problems.summaryRef} />
          <ul className="cart-lines" aria-label="Items in your cart">
            {cart.lines.map((line) => (
              <CartLineItem
                key={line.sku}
                line={line}
                problem={lineProblems[line.sku]}
                onQuantity={(quantity) => changeQuantity(line.sku, quantity)}
                onRemove={() => remove(line)}
              />
            ))}
          </ul>
          <p className="cart-total">
            <span>Total</span> <strong>{formatMoneyByCurrency(totals)}</strong>
          </p>
          <p className="field-hint">
            Prices are confirmed by the validator when you place the order.
          </p>
          <FormField label="Note" hint="Optional." error={problems.fields.note}>
            <textarea
              name="note"
              rows={2}
              maxLength={1000}
              value={note}
              onChange={(e) => {
                setNote(e.target.value);
                problems.clearField("note");
                edited();
              }}
            />
          </FormField>
          <div className="form-actions">
            <button type="submit" className="button button-primary" disabled={busy}>
              {busy ? "Placing order…" : "Place order"}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

function CartLineItem({
  line,
  problem,
  onQuantity,
  onRemove,
}: {
  line: CartLine;
  problem: LineProblem | undefined;
  onQuantity: (quantity: string) => void;
  onRemove: () => void;
}) {
  const id = useId();
  const total = lineTotal(line);
  const describedBy = [
    problem?.product ? `${id}-product-error` : undefined,
    problem?.quantity ? `${id}-quantity-error` : undefined,
  ]
    .filter(Boolean)
    .join(" ");
  return (
    <li className={problem ? "cart-line cart-line-invalid" : "cart-line"} data-sku={line.sku}>
      <div className="cart-line-product">
        <span className="cart-line-name">{line.name}</span>
        <span className="task-meta">
          {line.sku} · {formatMoney(line.price_cents, line.currency)} each
        </span>
      </div>
      <div className="cart-line-quantity">
        <label htmlFor={`${id}-quantity`}>Quantity</label>
        <input
          id={`${id}-quantity`}
          aria-label={`Quantity of ${line.name}`}
          type="number"
          inputMode="numeric"
          min={1}
          max={MAX_QUANTITY}
          step={1}
          value={line.quantity}
          onChange={(e) => onQuantity(e.target.value)}
          aria-invalid={problem ? true : undefined}
          aria-describedby={describedBy || undefined}
        />
      </div>
      <span className="cart-line-total">
        {total === undefined ? "–" : formatMoney(total, line.currency)}
      </span>
      <button
        type="button"
        className="button button-small cart-line-remove"
        onClick={onRemove}
        aria-label={`Remove ${line.name}`}
      >
        Remove
      </button>
      {problem?.product && (
        <p className="field-error cart-line-error" id={`${id}-product-error`}>
          {problem.product}
        </p>
      )}
      {problem?.quantity && (
        <p className="field-error cart-line-error" id={`${id}-quantity-error`}>
          {problem.quantity}
        </p>
      )}
    </li>
  );
}
