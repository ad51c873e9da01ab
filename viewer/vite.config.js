// Vite build of Neuroglancer's standalone web client, served by Django.
//
// Django serves `dist/` as static files under /static/neuroglancer/ and the
// page itself (dist/index.html) at /neuroglancer/, so every asset, worker and
// wasm URL must be emitted relative to that base.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The `ikonate` release on the npm registry (1.1.1, forced via package.json
// `overrides` because neuroglancer pins an unfetchable GitHub commit) lacks
// three icons that neuroglancer imports. Map them onto the closest icons that
// do exist so the build does not fail.
const ikonateFallbacks = {
  "code-alt.svg": "edit.svg",
  "controls-alt.svg": "controls.svg",
  "layers.svg": "stack.svg",
};

function ikonateFallbackPlugin() {
  const iconsDir = fileURLToPath(
    new URL("./node_modules/ikonate/icons/", import.meta.url),
  );
  const re = /^ikonate\/icons\/([\w-]+\.svg)(\?.*)?$/;
  return {
    name: "ikonate-missing-icon-fallback",
    enforce: "pre",
    resolveId(source) {
      const m = re.exec(source);
      if (!m || !(m[1] in ikonateFallbacks)) return null;
      return iconsDir + ikonateFallbacks[m[1]] + (m[2] ?? "");
    },
  };
}

// Neuroglancer writes `new Worker(/* webpackChunkName: "..." */ new URL(...,
// import.meta.url))`. Vite only recognises `new Worker(new URL(...))` when
// nothing sits between the two, so without this the workers are not bundled
// and the viewer never loads any chunk. It must also run inside worker builds:
// the chunk worker itself starts the async_computation worker that holds the
// blosc/zstd/... decoders; if that one is missed, compressed chunks silently
// render as grey.
function stripWorkerChunkNameComment() {
  const re = /(new\s+(?:Shared)?Worker\s*\(\s*)\/\*[^*]*\*\/\s*/g;
  return {
    name: "strip-webpack-worker-chunk-name",
    enforce: "pre",
    transform(code, id) {
      if (!id.includes("neuroglancer") || !code.includes("webpackChunkName")) {
        return null;
      }
      const out = code.replace(re, "$1");
      return out === code ? null : { code: out, map: null };
    },
  };
}

export default defineConfig({
  base: "/static/neuroglancer/",
  root: fileURLToPath(new URL(".", import.meta.url)),
  publicDir: false,
  plugins: [ikonateFallbackPlugin(), stripWorkerChunkNameComment()],
  worker: {
    // Workers use dynamic import() (codec wasm modules), which needs ES
    // module workers; the default "iife" format cannot code-split.
    format: "es",
    plugins: () => [ikonateFallbackPlugin(), stripWorkerChunkNameComment()],
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Neuroglancer's main chunk is several MB; that is expected.
    chunkSizeWarningLimit: 8000,
    sourcemap: false,
  },
});
