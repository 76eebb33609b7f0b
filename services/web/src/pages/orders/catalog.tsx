import { useCallback, useEffect, useId, useState } from "react";
import { formatMoney } from "../../components/money.ts";
import { EmptyState, ErrorState, Loading } from "../../components/page-state.tsx";
import { ordersApi, type Product } from "./orders.api.ts";

type CatalogState =
  | { phase: "loading" }
  | { phase: "ready"; products: Product[] }
  | { phase: "error"; error: unknown };

/** The validator's catalog: name, SKU, price, stock, and "Add to cart". */
export function Catalog({ onAdd }: { onAdd: (product: Product) => void }) {
  const headingId = useId();
  const [state, setState] = useState<CatalogState>({ phase: "loading" });
  const [added, setAdded] = useState("");

  const load = useCallback(async () => {
    setState({ phase: "loading" });
    try {
      setState({ phase: "ready", products: await ordersApi.products() });
    } catch (error) {
      setState({ phase: "error", error });
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const add = (product: Product) => {
    onAdd(product);
    setAdded(`${product.name} added to your cart.`);
  };

  return (
    <section className="card catalog" aria-labelledby={headingId}>
      <h2 id={headingId}>Catalog</h2>
      <p className="action-message success" role="status">
        {added}
      </p>
      {state.phase === "loading" && <Loading label="Loading the catalog…" />}
      {state.phase === "error" && (
        <ErrorState title="The catalog is unavailable" error={state.error} onRetry={load} />
      )}
      {state.phase === "ready" && state.products.length === 0 && (
        <EmptyState title="No products in the catalog." />
      )}
      {state.phase === "ready" && state.products.length > 0 && (
        <ul className="product-list" aria-label="Products">
          {state.products.map((product) => (
            <li key={product.sku} className="product">
              <div className="product-text">
                <span className="product-name">{product.name}</span>
                <span className="task-meta">{product.sku}</span>
              </div>
              <span className="product-price">
                {formatMoney(product.price_cents, product.currency)}
              </span>
              <span className={product.stock > 0 ? "product-stock" : "product-stock out"}>
                {product.stock > 0 ? `${product.stock} in stock` : "Out of stock"}
              </span>
              <button
                type="button"
                className="button button-small product-add"
                disabled={product.stock <= 0}
                onClick={() => add(product)}
                aria-label={`Add ${product.name} to cart`}
              >
                Add to cart
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
