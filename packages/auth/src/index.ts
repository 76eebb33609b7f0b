export * from "./fastify-auth.plugin.ts";
export * from "./passwords.ts";
export * from "./tokens.ts";
