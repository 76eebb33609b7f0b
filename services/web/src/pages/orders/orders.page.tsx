import { Route, Routes } from "react-router";
import { useCursorList } from "../../components/cursor-list.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";
import { useLiveEvent, useLiveResync } from "../../live/live-events.tsx";
import { useSession } from "../../session/session-context.tsx";
import NotFoundPage from "../not-found.page.tsx";
import { useCart } from "./cart.ts";
import { CartPanel } from "./cart-panel.tsx";
import { Catalog } from "./catalog.tsx";
import { OrderDetail } from "./order-detail.tsx";
import { OrderHistory } from "./order-history.tsx";
import { type Order, ordersApi } from "./orders.api.ts";

const PAGE_SIZE = 20;

/** /orders (catalog, cart, history) and /orders/:id (one order). */
export default function OrdersPage() {
  const session = useSession();
  const userId = session.status === "signed-in" ? session.user.id : "";
  return (
    <Routes>
      {/* Keyed by the user: the cart is theirs. */}
      <Route index element={<OrdersHome key={userId} userId={userId} />} />
      <Route path=":id" element={<OrderDetail />} />
      <Route path="*" element={<NotFoundPage />} />
    </Routes>
  );
}

function OrdersHome({ userId }: { userId: string }) {
  useDocumentTitle("Orders");
  const cart = useCart(userId);
  const history = useCursorList<Order>(
    (cursor) => ordersApi.list({ cursor, limit: PAGE_SIZE }),
    "orders",
  );

  // An order placed elsewhere (another tab) is announced by its notification.
  useLiveEvent("notification.created", (notification) => {
    if (notification.kind === "order.confirmed") void history.reload("merge");
  });
  useLiveResync(() => void history.reload("merge"));

  const onPlaced = (order: Order) =>
    history.update((items) => [order, ...items.filter((o) => o.id !== order.id)]);

  return (
    <>
      <h1>Orders</h1>
      <div className="orders-grid">
        <Catalog onAdd={cart.add} />
        <CartPanel cart={cart} onPlaced={onPlaced} />
      </div>
      <OrderHistory list={history} />
    </>
  );
}
