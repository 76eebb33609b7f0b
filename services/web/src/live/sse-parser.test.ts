import { describe, expect, it } from "vitest";
import { createSseParser, type ServerSentEvent } from "./sse-parser.ts";

function parse(chunks: string[]) {
  const events: ServerSentEvent[] = [];
  const retries: number[] = [];
  const parser = createSseParser({
    onEvent: (e) => events.push(e),
    onRetry: (ms) => retries.push(ms),
  });
  for (const chunk of chunks) parser.push(chunk);
  return { events, retries };
}

describe("the event-stream parser", () => {
  it("reads the API's stream: retry, a comment, then named events", () => {
    const { events, retries } = parse([
      'retry: 3000\n: connected\n\nevent: task.updated\ndata: {"id":"a","status":"DONE"}\n\n',
      ": ping\n\n",
    ]);
    expect(retries).toEqual([3000]);
    expect(events).toEqual([
      { event: "task.updated", data: '{"id":"a","status":"DONE"}', id: undefined },
    ]);
  });

  it("joins an event split anywhere across chunks, CRLF breaks included", () => {
    const text = "event: a\r\ndata: one\r\ndata: two\r\n\r\nevent: b\r\ndata: 2\r\n\r\n";
    for (let cut = 1; cut < text.length; cut++) {
      const { events } = parse([text.slice(0, cut), text.slice(cut)]);
      expect(events.map((e) => [e.event, e.data])).toEqual([
        ["a", "one\ntwo"],
        ["b", "2"],
      ]);
    }
  });

  it("names an event without `event:` message, and drops one that has no data", () => {
    const { events } = parse(["data: x\n\nevent: empty\n\n"]);
    expect(events.map((e) => e.event)).toEqual(["message"]);
  });
});
