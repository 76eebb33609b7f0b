import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * The web app. `vite` serves it with /api proxied to a TaskFlow API on 127.0.0.1:8080
 * (`npx taskflow start`); `vite build` writes dist/ (index.html and hashed assets), which the
 * API serves at / and nginx in deployment.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  plugins: [react()],
  server: {
    host: "127.0.0.1",
    port: 5173,
    strictPort: true,
    proxy: {
      // One origin for the browser: the session cookie (path /api) and SSE work as in production.
      "/api": { target: "http://127.0.0.1:8080", changeOrigin: false },
    },
  },
  preview: { host: "127.0.0.1", port: 4173 },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
  },
});
