/**
 * Memory over many runs: one process runs a fast command job N times (default 5,000) through
 * the same dispatcher, run store, pings and metrics the daemon uses, and prints the resident
 * memory after warm-up and at the end, each time at once and again after `--settle` seconds
 * idle (default 12), as a daemon is between runs: V8 gives back the pages it freed while busy
 * only once its memory reducer (8 s) has run. A leak per run shows as growth with N in the settled
 * figures. `--bare` spawns the same command with `Deno.Command` alone (output piped and read the
 * same way), to tell the runtime's share from snapcron's.
 *
 *   deno run --allow-all --v8-flags=--expose-gc scripts/reliability/many_runs.ts [--runs 5000] [--settle 12] [--bare] [--trim]
 *
 * The allocator settings in effect (MALLOC_* variables) are printed first. With `--trim`, the
 * end calls glibc's `malloc_trim(0)` (through FFI) and prints the RSS again: what that gives back
 * was freed memory the allocator kept, not memory still in use.
 */
import { parseArgs } from "node:util";
import { commandJob } from "../../src/jobs/mod.ts";
import { silentLogger } from "../../src/log/mod.ts";
import { renderPrometheus } from "../../src/metrics/mod.ts";
import { Dispatcher, RunStore } from "../../src/runner/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string" },
    bare: { type: "boolean", default: false },
    trim: { type: "boolean", default: false },
    settle: { type: "string" },
  },
});
const runs = Number(values.runs ?? "5000");
const settleMs = Number(values.settle ?? "12") * 1000;
const encoder = new TextEncoder();
const print = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
const rss = () =>
  Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))![1]) / 1024;
const ARGV = ["/bin/echo", "a line of output from a fast job"] as const;

const store = new RunStore();
const dispatcher = new Dispatcher(store, { log: silentLogger() });
const spec = { job: commandJob("fast", { argv: ARGV }), overlap: "skip" as const };
const source = { jobs: () => [{ name: "fast" }], history: (job: string) => store.get(job) };

const heap = () => Deno.memoryUsage().heapUsed / 1048576;

/**
 * Where the resident memory is, from /proc/self/smaps (MiB): the `deno` executable's pages, other
 * files, glibc's main heap (`[heap]`), V8's heap (committed, from Deno.memoryUsage), and the rest
 * of the anonymous memory (glibc's thread arenas, runtime buffers, thread stacks).
 */
function breakdown(): string {
  let exe = 0, files = 0, brk = 0, anon = 0;
  let kind = "anon";
  for (const line of Deno.readTextFileSync("/proc/self/smaps").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1]!;
      kind = path === Deno.execPath()
        ? "exe"
        : path === "[heap]"
        ? "brk"
        : path.startsWith("/")
        ? "file"
        : "anon";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    const kb = Number(rss[1]);
    if (kind === "exe") exe += kb;
    else if (kind === "file") files += kb;
    else if (kind === "brk") brk += kb;
    else anon += kb;
  }
  const v8 = Deno.memoryUsage().heapTotal / 1024;
  const mib = (kb: number) => (kb / 1024).toFixed(1);
  return `executable ${mib(exe)}, other files ${mib(files)}, [heap] ${mib(brk)}, ` +
    `anonymous ${mib(anon)} (V8 heap committed ${mib(v8)}) MiB`;
}
/** Open file descriptors: a pipe or process handle left open per run would show here. */
const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
let done = 0;
let failed = 0;

/** One spawn without snapcron: both pipes read to the end as text, then the status. */
async function bareRun(): Promise<void> {
  const child = new Deno.Command(ARGV[0], {
    args: ARGV.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) decoder.decode(chunk, { stream: true });
  };
  await Promise.all([read(child.stdout), read(child.stderr)]);
  if (!(await child.status).success) failed++;
}

async function batch(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (values.bare) {
      await bareRun();
    } else {
      dispatcher.trigger(spec, { trigger: "manual" });
      await dispatcher.idle();
      if (i % 100 === 0) renderPrometheus(source);
    }
    if (++done % 1000 === 0) {
      print(
        `after ${done} runs: RSS ${rss().toFixed(1)} MiB, JS heap ${
          heap().toFixed(1)
        } MiB, ${fds()} fds`,
      );
    }
  }
}

const settings = Object.entries(Deno.env.toObject())
  .filter(([name]) => name.startsWith("MALLOC_") || name === "DENO_V8_FLAGS")
  .map(([name, value]) => `${name}=${value}`);
print(
  `${values.bare ? "bare Deno.Command" : "snapcron command job"}; allocator settings: ${
    settings.join(" ") || "none"
  }`,
);
const warmUp = Math.min(500, Math.floor(runs / 10));

/** RSS at once (after a full GC), then after `settleMs` idle, each printed with where it is. */
async function measure(when: string): Promise<{ busy: number; settled: number }> {
  // deno-lint-ignore no-explicit-any -- gc exists only with --v8-flags=--expose-gc
  (globalThis as any).gc?.();
  const busy = rss();
  print(`${when}, at once: RSS ${busy.toFixed(1)} MiB: ${breakdown()}`);
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const settled = rss();
  print(`${when}, ${settleMs / 1000} s idle: RSS ${settled.toFixed(1)} MiB: ${breakdown()}`);
  return { busy, settled };
}

await batch(warmUp);
const before = await measure(`after ${warmUp} warm-up runs`);
const started = performance.now();
await batch(runs - warmUp);
const elapsed = (performance.now() - started) / 1000;
const after = await measure(`after ${runs} runs`);
const totals = values.bare
  ? { success: runs - failed, failure: failed }
  : store.get("fast")!.totals.runs;
print(`runs: ${totals.success} succeeded, ${totals.failure} failed in ${elapsed.toFixed(1)} s`);
const growth = (key: "busy" | "settled") =>
  `${before[key].toFixed(1)} → ${after[key].toFixed(1)} MiB, growth ${
    (after[key] - before[key]).toFixed(1)
  } MiB`;
print(`RSS at once: ${growth("busy")}`);
print(`RSS after ${settleMs / 1000} s idle: ${growth("settled")}`);
if (values.trim) {
  const libc = Deno.dlopen("libc.so.6", {
    malloc_trim: { parameters: ["usize"], result: "i32" },
  });
  libc.symbols.malloc_trim(0n);
  libc.close();
  print(`RSS after malloc_trim(0): ${rss().toFixed(1)} MiB`);
}
