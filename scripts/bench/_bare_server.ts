/**
 * The peer of the `status` and `footprint` benchmarks: a bare `Deno.serve` on 127.0.0.1 that
 * answers every request with a fixed JSON body (the file BODY_FILE, or a small object).
 *
 *   deno run --allow-net --allow-read scripts/bench/_bare_server.ts PORT [BODY_FILE]
 */
const [port, bodyFile] = Deno.args;
const body = bodyFile === undefined
  ? new TextEncoder().encode('{"Running":{},"Last":null,"healthy":true}\n')
  : await Deno.readFile(bodyFile);
Deno.serve(
  { hostname: "127.0.0.1", port: Number(port), onListen: () => {} },
  () => new Response(body, { headers: { "content-type": "application/json; charset=utf-8" } }),
);
