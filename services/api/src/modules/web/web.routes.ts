import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { sendProblem } from "../../http/problem.ts";

/**
 * The headers every response of the web app carries, here and in nginx
 * (deploy/nginx/nginx.conf sends the same; its test compares them with these).
 * Styles may be inline (libraries set them), scripts never: Vite emits them as files.
 */
export const WEB_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
};

/** Vite names what it emits under /assets/ by content hash: a name never changes content. */
export const IMMUTABLE_CACHE = "public, max-age=31536000, immutable";
/** Everything else (index.html first) is revalidated on every use. */
export const REVALIDATE_CACHE = "no-cache";

/** Paths the API owns: never answered with the app, even for a browser. */
const API_PATHS = ["/api", "/docs", "/openapi.json", "/healthz", "/readyz", "/metrics"];

export interface WebRoutesOptions {
  /** The built app: index.html and assets/ (`npm run build -w @taskflow/web`). */
  root: string;
  /** Where the warning about a missing build goes (the app's logger). */
  logger: Pick<FastifyBaseLogger, "warn">;
}

/** Whether `dir` holds a built web app (its index.html). */
export function isWebAppBuilt(dir: string): boolean {
  return existsSync(path.join(dir, "index.html"));
}

function isApiPath(pathname: string): boolean {
  return API_PATHS.some((prefix) => pathname === prefix || pathname.startsWith(`${prefix}/`));
}

/**
 * The file of the app a URL path names, relative to `root`; undefined for anything else
 * (no such file, a folder, a dotfile, a path leaving the root, a malformed escape).
 */
async function appFile(root: string, pathname: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0") || decoded.split("/").some((segment) => segment.startsWith(".")))
    return undefined;
  const file = path.join(root, decoded);
  if (!file.startsWith(`${root}${path.sep}`)) return undefined;
  const found = await stat(file).catch(() => undefined);
  return found?.isFile() ? path.relative(root, file).split(path.sep).join("/") : undefined;
}

/**
 * Serves the built web app at /: its files (hashed assets cached for a year, the rest
 * revalidated), and index.html for any other page a browser asks for (the app routes in the
 * browser: a deep link or a reload must load it). Paths of the API itself keep their 404
 * problem. Without an index.html in `root`, it warns once and serves no app.
 */
export async function webRoutes(app: FastifyInstance, options: WebRoutesOptions): Promise<void> {
  const root = path.resolve(options.root);
  if (!isWebAppBuilt(root)) {
    options.logger.warn(
      { dir: root },
      "no web app: its folder has no index.html (build it: npm run build -w @taskflow/web, or set TASKFLOW_WEB_DIR)",
    );
    app.get("/", { schema: { hide: true } }, async (_request, reply) =>
      sendProblem(
        reply,
        404,
        "the web app is not built: run `npm run build -w @taskflow/web` (`npm start` does it)",
      ),
    );
    return;
  }

  // Only reply.sendFile: which file answers is decided here.
  await app.register(fastifyStatic, {
    root,
    serve: false,
    index: false,
    cacheControl: false,
    dotfiles: "deny",
  });

  const send = (reply: FastifyReply, file: string) => {
    reply.headers(WEB_SECURITY_HEADERS);
    reply.header("cache-control", file.startsWith("assets/") ? IMMUTABLE_CACHE : REVALIDATE_CACHE);
    return reply.sendFile(file);
  };

  app.get("/*", { schema: { hide: true } }, async (request: FastifyRequest, reply) => {
    const pathname = request.url.split("?")[0] ?? "/";
    if (isApiPath(pathname)) return reply.callNotFound();
    const file = await appFile(root, pathname);
    if (file) return send(reply, file);
    const wantsPage = pathname === "/" || (request.headers.accept ?? "").includes("text/html");
    if (wantsPage && !pathname.startsWith("/assets/")) return send(reply, "index.html");
    return reply.callNotFound();
  });
}
