export * from "./notification.repository.ts";
