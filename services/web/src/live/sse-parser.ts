/** One Server-Sent Event: its `event:` name ("message" when absent) and `data:` text. */
export interface ServerSentEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * Incremental text/event-stream parsing (the WHATWG rules): feed it text as it arrives, in
 * chunks split anywhere; it calls `onEvent` per complete event and `onRetry` when the server
 * sets the reconnection delay. Comments (`: ping`) are skipped.
 */
export function createSseParser(handlers: {
  onEvent: (event: ServerSentEvent) => void;
  onRetry?: (ms: number) => void;
}) {
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  // A chunk may end between the \r and \n of one line break.
  let skipLeadingLf = false;

  const line = (text: string) => {
    if (text === "") {
      if (data.length > 0)
        handlers.onEvent({ event: event || "message", data: data.join("\n"), id });
      event = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        event = value;
        break;
      case "data":
        data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) id = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) handlers.onRetry?.(Number(value));
        break;
    }
  };

  return {
    push(chunk: string) {
      buffer += chunk;
      if (skipLeadingLf && buffer.startsWith("\n")) buffer = buffer.slice(1);
      skipLeadingLf = false;
      for (;;) {
        const end = buffer.search(/[\r\n]/);
        if (end === -1) return;
        const crlf = buffer[end] === "\r";
        line(buffer.slice(0, end));
        buffer = buffer.slice(end + 1);
        if (crlf) {
          if (buffer.startsWith("\n")) buffer = buffer.slice(1);
          else if (buffer === "") skipLeadingLf = true;
        }
      }
    },
  };
}
