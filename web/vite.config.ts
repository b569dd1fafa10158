// The admin interface is built into web/dist, which the daemon serves at / ([web] static_dir).
// `npm run dev` serves it with hot reload and sends the API to a daemon on 127.0.0.1:8080
// (or GATEHOUSE_API=http://host:port).
import { defineConfig } from "vite";

const api = process.env.GATEHOUSE_API || "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    // Everything is bundled into files of our own: no CDN, no inline scripts (the daemon's
    // Content-Security-Policy allows only 'self').
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    proxy: {
      "/api": api,
      "/metrics": api,
    },
  },
});
