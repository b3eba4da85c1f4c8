// Builds the console into dist/, which deputy serves at /console/ (src/plugins/console.ts).
// One entry, hashed file names (served immutable), no inline script or style, so the strict
// Content-Security-Policy deputy sends holds: script-src 'self', style-src 'self'.
import { defineConfig } from 'vite'

export default defineConfig({
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  resolve: { alias: { react: 'preact/compat' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Inlined assets would be data: URLs; keep everything a file the CSP allows.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    sourcemap: false
  }
})
