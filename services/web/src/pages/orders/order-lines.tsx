import { formatMoney } from "../../components/money.ts";
import type { Order } from "./orders.api.ts";

/** An order's lines as the validator priced them, with the total. */
export function OrderLines({ order, caption }: { order: Order; caption: string }) {
  return (
    <div className="table-scroll">
      <table className="data-table order-lines">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col" className="num">
              Unit price
            </th>
            <th scope="col" className="num">
              Quantity
            </th>
            <th scope="col" className="num">
              Line total
            </th>
          </tr>
        </thead>
        <tbody>
          {order.items.map((line, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: one SKU may fill two lines.
            <tr key={i}>
              <th scope="row">
                {line.name} <span className="task-meta">{line.sku}</span>
              </th>
              <td className="num">{formatMoney(line.unit_price_cents, order.currency)}</td>
              <td className="num">{line.quantity}</td>
              <td className="num">{formatMoney(line.line_total_cents, order.currency)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={3}>
              Total
            </th>
            <td className="num">
              <strong>{formatMoney(order.total_cents, order.currency)}</strong>
            </td>
          </tr>
        </tfoot>
      </table>
    </div>
  );
}
