/**
 * Helper of the `footprint` benchmark: imports one module (a bare specifier from deno.json's
 * imports, or a path relative to the repository's root), then serves like `_bare_server.ts`, so
 * that its idle RSS minus a bare server's is what that module costs to load.
 *
 *   deno run -A scripts/bench/_import_probe.ts PORT [SPECIFIER]
 */
const [port, specifier] = Deno.args;
if (specifier !== undefined) {
  await import(
    specifier.startsWith("src/") || specifier === "main.ts"
      ? new URL(`../../${specifier}`, import.meta.url).href
      : specifier
  );
}
const body = new TextEncoder().encode('{"Running":{},"Last":null,"healthy":true}\n');
Deno.serve(
  { hostname: "127.0.0.1", port: Number(port), onListen: () => {} },
  () => new Response(body, { headers: { "content-type": "application/json; charset=utf-8" } }),
);
