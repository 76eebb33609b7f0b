import { useDocumentTitle } from "../../components/use-document-title.ts";

/** Placeholder: the Analytics page. */
export default function AnalyticsPage() {
  useDocumentTitle("Analytics");
  return (
    <>
      <h1>Analytics</h1>
      <p>Orders, revenue and task throughput per minute. Coming soon.</p>
    </>
  );
}
