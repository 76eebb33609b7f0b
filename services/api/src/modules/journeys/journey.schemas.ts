import { Type } from "@sinclair/typebox";

export const JourneyHopSchema = Type.Object(
  {
    service: Type.String({
      description:
        "The role that made the hop: api, validator, relay, worker, notifier, mailer, analytics",
      examples: ["worker"],
    }),
    step: Type.String({ examples: ["attempt 1"] }),
    at: Type.String({ format: "date-time", description: "When the hop started" }),
    duration_ms: Type.Union([Type.Number(), Type.Null()], {
      description: "How long it took (or waited); null while it is still running or unknown",
    }),
    trace_id: Type.Union([Type.String({ pattern: "^[0-9a-f]{32}$" }), Type.Null()], {
      description: "The W3C trace id of the request that started the journey; null: none",
    }),
  },
  { $id: "JourneyHop", title: "JourneyHop", additionalProperties: false },
);

export const JourneySchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    trace_id: Type.Union([Type.String({ pattern: "^[0-9a-f]{32}$" }), Type.Null()]),
    hops: Type.Array(Type.Ref("JourneyHop"), {
      description: "In the order they happened",
    }),
  },
  { $id: "Journey", title: "Journey", additionalProperties: false },
);

export const journeySchemas = [JourneyHopSchema, JourneySchema];
