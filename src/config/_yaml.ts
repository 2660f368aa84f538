// The `yaml` package pinned in deno.json, loaded as its ES module build. Deno resolves "yaml"
// through the package's `node` export condition to its CommonJS build, and loading that starts
// Deno's Node.js compatibility layer and CommonJS loader: about 9 MiB more of the daemon's idle
// memory than these same parser modules as ES modules (measured in docs/benchmarks.md). The
// files come from ./node_modules, which deno.json's `"nodeModulesDir": "auto"` fills from the
// lockfile on first use (deno.json maps "yaml/es-build" to the build's entry); the types are the
// package's own.
// @ts-types="../../node_modules/yaml/dist/index.d.ts"
export * from "yaml/es-build";
