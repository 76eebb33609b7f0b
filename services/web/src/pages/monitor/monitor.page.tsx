import { useDocumentTitle } from "../../components/use-document-title.ts";

/** Placeholder: the Monitor page. */
export default function MonitorPage() {
  useDocumentTitle("Monitor");
  return (
    <>
      <h1>Monitor</h1>
      <p>Queues, workers, dead letters and the audit log. Coming soon.</p>
    </>
  );
}
