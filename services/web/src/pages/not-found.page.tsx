import { Link } from "react-router";
import { useDocumentTitle } from "../components/use-document-title.ts";

export default function NotFoundPage() {
  useDocumentTitle("Not found");
  return (
    <>
      <h1>Page not found</h1>
      <p>
        There is nothing here. <Link to="/tasks">Go to your tasks</Link>.
      </p>
    </>
  );
}
