import { useDocumentTitle } from "../../components/use-document-title.ts";

/** Placeholder: the Orders page. */
export default function OrdersPage() {
  useDocumentTitle("Orders");
  return (
    <>
      <h1>Orders</h1>
      <p>Place orders and follow them. Coming soon.</p>
    </>
  );
}
