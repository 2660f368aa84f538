/**
 * By-hand benchmark: `wrk -t2 -c64` against `GET /` of `snapcron run` with 10 jobs (`@yearly`,
 * `run_on_start: true`, so each has a finished run in its history and none fires during the
 * test), against a bare `Deno.serve` (`_bare_server.ts`) answering snapcron's own body, byte for
 * byte, as a fixed JSON answer. Rounds alternate which server goes first (ABBA), and the ratio is
 * the median of the rounds' own ratios: on this shared VM either server's rate drifts by ±15%
 * within a minute, and two identical servers measured as 0.90 by one 10 s run each.
 *
 *   deno task bench status [--duration 2s] [--runs 15] [--doc FILE]
 */
import { parseArgs } from "node:util";
import {
  atLeast,
  benchCommand,
  docPath,
  fixed,
  freePort,
  LoadSampler,
  machineFacts,
  median,
  parseSeconds,
  print,
  ROOT,
  type Row,
  SNAPCRON_FLAGS,
  stopChildren,
  table,
  tenJobsConfig,
  verdict,
  waitForHttp,
  wholeFlag,
  writeSection,
  wrk,
  type WrkResult,
} from "./_common.ts";

const JOBS = 10;

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      duration: { type: "string", default: "2s" },
      runs: { type: "string", default: "15" },
      doc: { type: "string" },
    },
  });
  const seconds = parseSeconds(values.duration);
  const runs = wholeFlag("runs", values.runs, 15);
  const dir = await Deno.makeTempDir({ prefix: "snapcron-bench-status-" });
  const load = new LoadSampler();
  const children: Deno.ChildProcess[] = [];
  try {
    const port = freePort();
    const config = `${dir}/snapcron.yaml`;
    await Deno.writeTextFile(config, tenJobsConfig(port, { runOnStart: true }));
    children.push(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--quiet", ...SNAPCRON_FLAGS, "main.ts", "run", "--config", config],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
    const ours = `http://127.0.0.1:${port}/`;
    await waitForHttp(ours);
    const body = await waitForRuns(ours);
    await Deno.writeFile(`${dir}/body.json`, body);
    const barePort = freePort();
    children.push(
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--allow-net=127.0.0.1",
          `--allow-read=${dir}`,
          new URL("_bare_server.ts", import.meta.url).pathname,
          String(barePort),
          `${dir}/body.json`,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
    const bare = `http://127.0.0.1:${barePort}/`;
    await waitForHttp(bare);
    print(`status: ${JOBS} jobs, body ${body.length} bytes; ${runs} x ${seconds} s per server`);
    // Warm-up: JIT both.
    await wrk(ours, 1);
    await wrk(bare, 1);
    const results = { snapcron: [] as WrkResult[], bare: [] as WrkResult[] };
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? ["snapcron", "bare"] as const : ["bare", "snapcron"] as const;
      for (const server of order) {
        const result = await wrk(server === "snapcron" ? ours : bare, seconds);
        results[server].push(result);
        print(
          `  run ${run + 1} ${server.padEnd(8)} ${fixed(result.requestsPerSecond, 0)} req/s, p50 ${
            fixed(result.p50Ms)
          } ms, p99 ${fixed(result.p99Ms)} ms, ${result.errors} errors`,
        );
      }
    }
    load.stop();
    const rps = (list: WrkResult[]) => median(list.map((r) => r.requestsPerSecond));
    const p99 = (list: WrkResult[]) => median(list.map((r) => r.p99Ms));
    const errors = [...results.snapcron, ...results.bare].reduce((sum, r) => sum + r.errors, 0);
    const command = benchCommand("status", [`--duration ${values.duration}`, `--runs ${runs}`]);
    const ratios = results.snapcron.map((ours, run) =>
      ours.requestsPerSecond / results.bare[run]!.requestsPerSecond
    );
    const ratio = median(ratios);
    const rows: Row[] = [
      {
        figure: `GET / with ${JOBS} jobs, wrk -t2 -c64 (req/s)`,
        snapcron: fixed(rps(results.snapcron), 0),
        peer: `bare Deno.serve ${fixed(rps(results.bare), 0)}`,
        ratio: fixed(ratio),
        target: "≥ 0.90",
        met: verdict(atLeast(ratio, 0.9)),
        command,
      },
      {
        figure: "GET / latency p99 (ms)",
        snapcron: fixed(p99(results.snapcron)),
        peer: `bare Deno.serve ${fixed(p99(results.bare))}`,
        ratio: fixed(p99(results.snapcron) / p99(results.bare)),
        target: "≤ 10 ms",
        met: verdict(p99(results.snapcron) <= 10),
        command,
      },
    ];
    const markdown = `## status

\`wrk -t2 -c64 -d${seconds}s --latency\` against \`GET /\` of \`snapcron run\` with ${JOBS} jobs
(\`@yearly\`, \`run_on_start: true\`: each has one finished run, none fires during the test), and
against a bare \`Deno.serve\` (\`scripts/bench/_bare_server.ts\`) answering the same
${body.length}-byte JSON body as a fixed answer. wrk shares the 2 cores with the server it loads.
${runs} rounds, each running both servers back to back, the first of them alternating (ABBA);
the ratio is the median of the rounds' own ratios (req/s and p99 are medians per server), since
either server's rate drifts by ±15% within a minute on this VM. ${errors} socket errors or non-2xx
answers in all.

${table(rows)}

Every run (req/s, p99 ms): snapcron ${
      results.snapcron.map((r) => `${fixed(r.requestsPerSecond, 0)}/${fixed(r.p99Ms)}`).join(", ")
    }; bare ${
      results.bare.map((r) => `${fixed(r.requestsPerSecond, 0)}/${fixed(r.p99Ms)}`).join(", ")
    }.

${NOTES}

${machineFacts(load)}`;
    await writeSection(docPath(values.doc), "status", markdown);
    print(table(rows));
  } finally {
    load.stop();
    await stopChildren(children, "SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
}

/** Waits until every job has finished its start-up run; returns the body of `GET /` then. */
async function waitForRuns(url: string): Promise<Uint8Array> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await fetch(url);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const body = JSON.parse(new TextDecoder().decode(bytes)) as {
      jobs?: Record<string, { state?: string }>;
    };
    const states = Object.values(body.jobs ?? {}).map((job) => job.state);
    if (states.length === JOBS && states.every((state) => state === "ok")) return bytes;
    if (Date.now() > deadline) {
      throw new Error(`The jobs did not all run within 30 s: states ${states.join(", ")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What was measured against the throughput target, with the runs named in it. */
const NOTES =
  `Issue #9, item 5, 2026-11-26. At 00:46Z (commit 856ed0d, one 10 s run per server) 0.95×; at
05:15Z (3 × 10 s) 0.75×, with nothing changed in the handler. Found at 06:00Z with ABBA pairs of
1 s runs (30 pairs, medians of the pairs' ratios; two identical bare servers measured 1.01, IQR
0.94–1.09, so the old 3 × 10 s design could not tell 0.75 from 0.95). A \`perf record\` of snapcron
under wrk: 55% kernel (loopback TCP), 31% deno's Rust, 8% JavaScript; the JavaScript that is ours
to change: building three response headers (\`fillHeaderList\`), \`new URL()\` and reading the
request headers. Deno 2.9 answers a 200 whose only header is \`content-type\` on a fast path
(\`maybeSetServeFastStaticFromInner\`); snapcron sent \`cache-control\` and \`vary\` too. Taken out
in the same run (snapcron against snapcron, ABBA, 30 pairs): the JSON answers carrying only
\`content-type\` (as go-cron's), 1.09× faster on its own; with the path also cut from the URL
string by hand and the body-length header read only for POST, 1.22× in all. Against the bare
server in those pairs: 0.755 (IQR 0.68–0.89) before, 0.99 (IQR 0.92–1.16) after. What is left is
reading \`Accept\` (the dashboard at \`/\` is chosen by it): a build that skipped it ran 1.10×
faster still. The V8 flag makes no difference (1.00, IQR 0.95–1.06). The first runs of this
benchmark after the change (15 ABBA rounds of 2 s each): 0.87× at 06:24Z (missed), 0.93× at 06:36Z
(met); the row sits at the target's edge, inside the rounds' spread.`;

if (import.meta.main) await main();
