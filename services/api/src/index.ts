export * from "./app.ts";
export { HttpProblem } from "./http/problem.ts";
export { countRequests } from "./http/request-stats.ts";
export { createUserRepository } from "./modules/users/user.repository.ts";
export { createAccount } from "./modules/users/user.service.ts";
