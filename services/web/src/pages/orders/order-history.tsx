import { useId } from "react";
import { Link } from "react-router";
import { type CursorListState, ListFooter } from "../../components/cursor-list.tsx";
import { DateTime } from "../../components/date-time.tsx";
import { formatMoney } from "../../components/money.ts";
import { EmptyState, ErrorState, Loading } from "../../components/page-state.tsx";
import { type Order, orderName, unitCount } from "./orders.api.ts";

type OrderList = CursorListState<Order> & {
  loadMore: () => Promise<void>;
  reload: (mode?: "reset") => Promise<void>;
};

/** The caller's orders, newest first, page by page. */
export function OrderHistory({ list }: { list: OrderList }) {
  const headingId = useId();
  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>Order history</h2>
      {list.phase === "loading" && <Loading label="Loading your orders…" />}
      {list.phase === "error" && (
        <ErrorState
          title="Orders unavailable"
          error={list.error}
          onRetry={() => void list.reload("reset")}
        />
      )}
      {list.phase === "ready" && list.items.length === 0 && (
        <EmptyState title="No orders yet.">
          <p>Add products to your cart and place an order: it will show up here.</p>
        </EmptyState>
      )}
      {list.phase === "ready" && list.items.length > 0 && (
        <>
          <div className="table-scroll">
            <table className="data-table">
              <caption className="visually-hidden">Your orders, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Order</th>
                  <th scope="col">Placed</th>
                  <th scope="col" className="num">
                    Items
                  </th>
                  <th scope="col" className="num">
                    Total
                  </th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((order) => (
                  <tr key={order.id} data-order-id={order.id}>
                    <td>
                      <Link to={`/orders/${order.id}`} className="task-name">
                        {orderName(order)}
                      </Link>
                    </td>
                    <td>
                      <DateTime value={order.created_at} />
                    </td>
                    <td className="num">{unitCount(order)}</td>
                    <td className="num">{formatMoney(order.total_cents, order.currency)}</td>
                    <td>
                      <span className="badge badge-done">Confirmed</span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ListFooter list={list} noun="orders" />
        </>
      )}
    </section>
  );
}
