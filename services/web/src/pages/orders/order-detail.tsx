import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { ApiProblem } from "../../api/client.ts";
import { DateTime } from "../../components/date-time.tsx";
import { JourneyTimeline } from "../../components/journey-timeline.tsx";
import { formatMoney } from "../../components/money.ts";
import { ErrorState, Loading } from "../../components/page-state.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";
import { OrderLines } from "./order-lines.tsx";
import { type Order, orderName, ordersApi, unitCount } from "./orders.api.ts";

type DetailState =
  | { phase: "loading" }
  | { phase: "ready"; order: Order }
  | { phase: "error"; error: unknown };

/** /orders/:id: one order, its lines and total. */
export function OrderDetail() {
  const { id = "" } = useParams();
  const [state, setState] = useState<DetailState>({ phase: "loading" });
  useDocumentTitle(state.phase === "ready" ? orderName(state.order) : "Order");

  const loadJourney = useCallback(() => ordersApi.journey(id), [id]);
  const load = useCallback(async () => {
    setState({ phase: "loading" });
    try {
      setState({ phase: "ready", order: await ordersApi.get(id) });
    } catch (error) {
      setState({ phase: "error", error });
    }
  }, [id]);

  useEffect(() => {
    void load();
  }, [load]);

  const breadcrumb = (
    <p className="breadcrumb">
      <Link to="/orders">← Orders</Link>
    </p>
  );

  if (state.phase === "loading") return <Loading label="Loading the order…" />;
  if (state.phase === "error") {
    const missing = state.error instanceof ApiProblem && state.error.status === 404;
    return (
      <>
        {breadcrumb}
        <h1>{missing ? "No such order" : "Order"}</h1>
        {missing ? (
          <p>This order does not exist, or it is not yours.</p>
        ) : (
          <ErrorState title="The order could not be loaded" error={state.error} onRetry={load} />
        )}
      </>
    );
  }

  const { order } = state;
  return (
    <>
      {breadcrumb}
      <div className="title-row">
        <h1>{orderName(order)}</h1>
        <span className="badge badge-done">Confirmed</span>
      </div>
      <section className="card" aria-labelledby="order-facts">
        <h2 id="order-facts">Details</h2>
        <dl className="facts">
          <dt>Placed</dt>
          <dd>
            <DateTime value={order.created_at} />
          </dd>
          <dt>Items</dt>
          <dd>{unitCount(order)}</dd>
          <dt>Total</dt>
          <dd>{formatMoney(order.total_cents, order.currency)}</dd>
          <dt>Note</dt>
          <dd>{order.note ?? <span className="muted">None</span>}</dd>
          <dt>ID</dt>
          <dd className="mono">{order.id}</dd>
        </dl>
      </section>
      <section className="card" aria-labelledby="order-lines">
        <h2 id="order-lines">Lines</h2>
        <OrderLines order={order} caption={`${orderName(order)}: its lines`} />
      </section>
      <JourneyTimeline load={loadJourney} headingId="order-journey" />
    </>
  );
}
