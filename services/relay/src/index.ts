export * from "./publishers.ts";
export * from "./relay.ts";
