import { useDocumentTitle } from "../../components/use-document-title.ts";

/** Placeholder: the Notifications page. */
export default function NotificationsPage() {
  useDocumentTitle("Notifications");
  return (
    <>
      <h1>Notifications</h1>
      <p>Your notifications. Coming soon.</p>
    </>
  );
}
