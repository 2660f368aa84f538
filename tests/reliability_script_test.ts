import assert from "node:assert/strict";

const SCRIPT = new URL("../scripts/reliability/many_runs.ts", import.meta.url).pathname;

/** The many-runs script of docs/reliability.md, on a tiny input: it still runs and counts. */
Deno.test("scripts/reliability/many_runs.ts runs a job N times and reports its memory", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--v8-flags=--expose-gc", SCRIPT, "--runs", "30", "--settle", "0"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.match(stdout, /^runs: 30 succeeded, 0 failed in /m);
  assert.match(stdout, /^RSS after 0 s idle: [\d.]+ → [\d.]+ MiB, growth -?[\d.]+ MiB$/m);
  assert.match(stdout, /executable [\d.]+, other files [\d.]+, \[heap\] [\d.]+, anonymous/);
});
