import { useDocumentTitle } from "../../components/use-document-title.ts";

/** Placeholder: the Mail page. */
export default function MailPage() {
  useDocumentTitle("Mail");
  return (
    <>
      <h1>Mail</h1>
      <p>Emails caught by the development mail sink. Coming soon.</p>
    </>
  );
}
