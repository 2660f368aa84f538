/**
 * Memory over many runs: one process runs a fast command job N times (default 5,000) through
 * the same dispatcher, run store, pings and metrics the daemon uses, and prints the resident
 * memory after warm-up and at the end. A leak per run shows as growth with N.
 *
 *   deno run --allow-all scripts/reliability/many_runs.ts [--runs 5000]
 */
import { parseArgs } from "node:util";
import { commandJob } from "../../src/jobs/mod.ts";
import { silentLogger } from "../../src/log/mod.ts";
import { renderPrometheus } from "../../src/metrics/mod.ts";
import { Dispatcher, RunStore } from "../../src/runner/mod.ts";

const { values } = parseArgs({ args: Deno.args, options: { runs: { type: "string" } } });
const runs = Number(values.runs ?? "5000");
const encoder = new TextEncoder();
const print = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
const rss = () =>
  Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))![1]) / 1024;

const store = new RunStore();
const dispatcher = new Dispatcher(store, { log: silentLogger() });
const spec = {
  job: commandJob("fast", { argv: ["/bin/echo", "a line of output from a fast job"] }),
  overlap: "skip" as const,
};
const source = { jobs: () => [{ name: "fast" }], history: (job: string) => store.get(job) };

const heap = () => Deno.memoryUsage().heapUsed / 1048576;
let done = 0;

async function batch(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    dispatcher.trigger(spec, { trigger: "manual" });
    await dispatcher.idle();
    if (i % 100 === 0) renderPrometheus(source);
    if (++done % 1000 === 0) {
      print(`after ${done} runs: RSS ${rss().toFixed(1)} MiB, JS heap ${heap().toFixed(1)} MiB`);
    }
  }
}

const warmUp = Math.min(500, Math.floor(runs / 10));
await batch(warmUp);
// deno-lint-ignore no-explicit-any -- gc exists only with --v8-flags=--expose-gc
(globalThis as any).gc?.();
const before = rss();
const started = performance.now();
await batch(runs - warmUp);
// deno-lint-ignore no-explicit-any
(globalThis as any).gc?.();
const after = rss();
const totals = store.get("fast")!.totals.runs;
print(
  `runs: ${totals.success} succeeded, ${totals.failure} failed in ${
    ((performance.now() - started) / 1000).toFixed(1)
  } s`,
);
print(
  `RSS after ${warmUp} warm-up runs: ${before.toFixed(1)} MiB; after ${runs}: ${
    after.toFixed(1)
  } MiB; growth ${(after - before).toFixed(1)} MiB`,
);
