import { useEffect } from "react";

/** Sets the tab's title while the page is shown ("Tasks · TaskFlow"). */
export function useDocumentTitle(title: string) {
  useEffect(() => {
    document.title = title ? `${title} · TaskFlow` : "TaskFlow";
  }, [title]);
}
