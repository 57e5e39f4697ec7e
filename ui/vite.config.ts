import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The build goes where the handler embeds it (internal/webui/doc.go).
// `npm run dev` serves the UI on :5173 and forwards /api to a handler
// started with `make run` (TRE_API, default http://127.0.0.1:8080).
export default defineConfig({
  plugins: [react()],
  base: "/",
  publicDir: false,
  build: {
    outDir: "../internal/webui/dist/app",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
  server: {
    // The Host header stays the page's, as the dev sign-in wants it.
    proxy: { "/api": { target: process.env.TRE_API ?? "http://127.0.0.1:8080", changeOrigin: false } },
  },
  test: {
    environment: "node", // component tests say // @vitest-environment jsdom
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test-setup.ts"],
    restoreMocks: true,
  },
});
