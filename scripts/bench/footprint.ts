/**
 * By-hand benchmark: what `snapcron run` costs when idle. With 10 command jobs that do not fire
 * (`@yearly`): the time from spawning the process to its first answer on `GET /`, and its RSS
 * after it idled a few seconds, against a bare `Deno.serve` process measured the same way in the
 * same run. snapcron runs with the runtime flags of the `snapcron` task in deno.json (V8 heap
 * sizing), and once more without them, to show what they save; the dependency count (`deno info main.ts`); the compiled binary's size. Then, to show
 * where idle memory goes, the RSS of a bare server that first imports one module (an npm package
 * or a folder of src/), for the modules `main.ts` loads.
 *
 *   deno task bench footprint [--runs 5] [--idle 3s] [--doc FILE]
 */
import { parseArgs } from "node:util";
import {
  benchCommand,
  docPath,
  fixed,
  freePort,
  LoadSampler,
  machineFacts,
  median,
  MiB,
  parseSeconds,
  PERMISSIONS,
  print,
  procMemory,
  ROOT,
  type Row,
  RUNTIME_FLAGS,
  stopChildren,
  table,
  tenJobsConfig,
  verdict,
  waitForHttp,
  wholeFlag,
  writeSection,
} from "./_common.ts";

/** What was tried against the idle RSS target, measured by hand on 2026-11-26 (kept with the bench). */
const PROFILE_NOTES =
  `Tried against the 60 MiB target (2026-11-26, same machine, medians of 3–5 interleaved runs):
\`--max-semi-space-size=1\`, 79.8 → 74.8 MiB, adopted (\`=2\` tried, see below); loading the
etcd/Elasticsearch/retention job code on a job's first run, no change (the CLI's other commands load
it statically anyway; with those made lazy too, −0.9 MiB), not adopted; parsing the config (yaml +
zod) in a Worker that is terminated after, 71 → 78 MiB (a second isolate costs more than the modules
it keeps out), not adopted; \`MALLOC_ARENA_MAX\`, \`MALLOC_TRIM_THRESHOLD_\`,
\`MALLOC_MMAP_THRESHOLD_\`, no effect; \`--no-code-cache\`, −3 MiB but 80–250 ms slower to start,
not adopted. Of the idle RSS, about 58 MiB is outside the V8 heap and about 41 MiB of it is pages of
the \`deno\` executable itself, which a compiled binary (a smaller runtime) may not touch; it could
not be measured here (no denort). Later the same day (06:30Z): \`yaml\` resolves to its CommonJS
build (the \`node\` export condition), and alone it costs +12.2 MiB against +4.3 MiB for its ES
module build (imported by file path as a probe); the ES build through a \`node_modules\` directory
left \`snapcron run\` at 76.0 against 75.0 MiB (what it keeps out is presumably loaded by other
modules; not broken down), so not adopted. No, 2 or 8 major GCs forced (\`--expose-gc\`) 1.5 s after
start: 76.6, 76.6 and 77.0 MiB, no change (the V8 heap holds 12.7 MB in use, against 4.0 for a bare
server). \`--max-semi-space-size=2\` tried at 06:50–07:03Z: with 1 MiB semi-spaces an S3 upload's
short-lived objects are promoted and its peak grows with size (146 MiB at 1 GiB, 163 at 4 GiB);
with 2 MiB, 144 and 150 (growth 1.04, met). But the etcd gRPC backup peaked higher (155 MiB at 256
MiB and 176 at 1 GiB, against 133 and 155 with \`=1\`; its growth 1.14 against 1.17) and the idle
daemon is about 2.5 MiB larger (77.5 against 75.0 MiB here; three interleaved daemons of each:
79.5–79.9 with \`=2\`, 77.4–77.9 with \`=1\`); lower peaks for the common cases won, \`=1\`
kept.

**Met on 2026-11-26 (08:00–08:20Z), 75.0 → 55.7–55.9 MiB**, by keeping out of the idle daemon what it
does not use; each step measured as the median of 3 daemons (10 command jobs, 3 s idle), the
probes as in the table. (1) Time zones: the default zone, UTC, went through
\`Intl.DateTimeFormat\`, and creating the first one loads ICU's locale data (+6 MiB as a probe):
UTC by any of its names now needs no Intl, 75.2 → 71.5. (2) zod: +9 MiB for its modules and +3
for our schema's objects, built at import; the config is now checked by a small checker of our
own (\`src/config/_shape.ts\`) with the same messages (the bad-input corpus passes unchanged):
71.5 → 63. (3) Deno's Node.js layer: any \`node:\` module imported statically, or an npm package
anywhere in the module graph (even behind an \`import()\` that never runs), starts it at start-up
(+4.2 to +4.6 MiB as a probe; touching \`globalThis.process\` alone, +7.5); and \`yaml\`
resolves to its CommonJS build (the \`node\` export condition), whose loader costs more than the
same parser as ES modules (+13.4 MiB against +4.0 as probes). Now: \`yaml\`'s ES module build
from \`node_modules\` (deno.json \`"nodeModulesDir": "auto"\`), our own flag parser instead of
\`node:util\` parseArgs, \`node:crypto\` and \`node:dgram\` loaded on first use, POSIX paths by
hand in local storage, and the S3 module imported through a name the graph does not follow (so
\`deno compile\` \`--include\`s it): 63 → 56. What is left over the bare server: the yaml parser
(+4.0 as a probe), our modules (+6.5), parsing the config (+4.5, the parser's code compiled on
first use) and starting the daemon (+4). Start-up fell with it: 259 → 131 ms to the first answer.
With the Node.js layer gone, the \`--max-semi-space-size=1\` flag saves only 0.5 MiB at idle; it
stays for the peaks of backups. Since commit 4d4a8a2 the flags also carry \`--expose-gc\`, for
the uploader's collections every 128 MiB (s3_upload's notes); the next rerun gave 56.9 MiB idle and
153 ms to the first answer (55.7 and 138 the run before), and nothing calls \`gc()\` while idle.`;

const RSS_LIMIT = 60 * MiB;
const START_LIMIT_MS = 500;

/** Modules whose load cost is measured one by one. */
const PROBES = [
  "@aws-sdk/client-s3",
  "yaml",
  "src/config/_yaml.ts",
  "node:crypto",
  "node:dgram",
  "node:util",
  "node:path",
  "src/storage/s3.ts",
  "src/storage/local.ts",
  "src/etcd/mod.ts",
  "src/elasticsearch/mod.ts",
  "src/config/mod.ts",
  "src/status/mod.ts",
  "src/metrics/mod.ts",
  "src/cli/mod.ts",
];

interface Sample {
  startMs: number;
  rss: number;
  hwm: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "5" },
      idle: { type: "string", default: "3s" },
      doc: { type: "string" },
    },
  });
  const runs = wholeFlag("runs", values.runs, 5);
  const idleMs = parseSeconds(values.idle) * 1000;
  const dir = await Deno.makeTempDir({ prefix: "snapcron-bench-footprint-" });
  const load = new LoadSampler();
  const flags = [...RUNTIME_FLAGS];
  try {
    const snapcron = async (runtimeFlags = flags): Promise<Sample> => {
      const port = freePort();
      const config = `${dir}/snapcron-${port}.yaml`;
      await Deno.writeTextFile(config, tenJobsConfig(port));
      return await sample(
        [
          Deno.execPath(),
          "run",
          "--quiet",
          ...runtimeFlags,
          ...PERMISSIONS,
          "main.ts",
          "run",
          "--config",
          config,
        ],
        port,
        idleMs,
      );
    };
    const probe = (specifier?: string) => {
      const port = freePort();
      return sample(
        [
          Deno.execPath(),
          "run",
          "--quiet",
          ...flags,
          "--allow-all",
          new URL("_import_probe.ts", import.meta.url).pathname,
          String(port),
          ...(specifier === undefined ? [] : [specifier]),
        ],
        port,
        idleMs,
      );
    };
    const bare = () => {
      const port = freePort();
      return sample(
        [
          Deno.execPath(),
          "run",
          "--quiet",
          "--allow-net=127.0.0.1",
          new URL("_bare_server.ts", import.meta.url).pathname,
          String(port),
        ],
        port,
        idleMs,
      );
    };
    // Warm-up: Deno's module cache.
    await snapcron();
    await bare();
    const results = { snapcron: [] as Sample[], unflagged: [] as Sample[], bare: [] as Sample[] };
    const kinds = [
      "snapcron",
      ...(flags.length > 0 ? ["unflagged"] as const : []),
      "bare",
    ] as const;
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? kinds : [...kinds].reverse();
      for (const which of order) {
        const result =
          await (which === "bare" ? bare() : snapcron(which === "unflagged" ? [] : flags));
        results[which].push(result);
        print(
          `  run ${run + 1} ${which.padEnd(9)} first answer after ${
            fixed(result.startMs, 0)
          } ms, idle RSS ${fixed(result.rss / MiB, 1)} MiB (peak ${fixed(result.hwm / MiB, 1)})`,
        );
      }
    }
    const probes: { specifier: string; rss: number }[] = [];
    const baseline = (await probe()).rss;
    for (const specifier of PROBES) {
      const { rss } = await probe(specifier);
      probes.push({ specifier, rss });
      print(`  probe ${specifier.padEnd(26)} idle RSS ${fixed(rss / MiB, 1)} MiB`);
    }
    load.stop();

    const graph = await dependencyGraph();
    const binary = await Deno.stat(`${ROOT}/dist/snapcron`).catch(() => undefined);
    const rss = (list: Sample[]) => median(list.map((s) => s.rss));
    const start = (list: Sample[]) => median(list.map((s) => s.startMs));
    const command = benchCommand("footprint", [`--runs ${runs}`, `--idle ${values.idle}`]);
    const unflagged: Row[] = flags.length === 0 ? [] : [{
      figure: `idle RSS as above, without \`${flags.join(" ")}\` (MiB)`,
      snapcron: fixed(rss(results.unflagged) / MiB, 1),
      peer: `with them ${fixed(rss(results.snapcron) / MiB, 1)}`,
      ratio: fixed(rss(results.unflagged) / rss(results.snapcron)),
      target: "—",
      met: "n/a",
      command,
    }];
    const rows: Row[] = [
      {
        figure: `idle RSS after ${values.idle}, 10 command jobs (MiB)`,
        snapcron: fixed(rss(results.snapcron) / MiB, 1),
        peer: `bare Deno.serve ${fixed(rss(results.bare) / MiB, 1)}`,
        ratio: fixed(rss(results.snapcron) / rss(results.bare)),
        target: "≤ 60 MiB",
        met: verdict(rss(results.snapcron) <= RSS_LIMIT),
        command,
      },
      ...unflagged,
      {
        figure: "spawn to first answer on GET / (ms)",
        snapcron: fixed(start(results.snapcron), 0),
        peer: `bare Deno.serve ${fixed(start(results.bare), 0)}`,
        ratio: fixed(start(results.snapcron) / start(results.bare)),
        target: "≤ 500 ms",
        met: verdict(start(results.snapcron) <= START_LIMIT_MS),
        command,
      },
      {
        figure: "dependencies (`deno info main.ts`)",
        snapcron: `${graph.modules} modules (${graph.local} local), ${graph.npm} npm packages`,
        peer: "—",
        ratio: "—",
        target: "—",
        met: "n/a",
        command: "`deno info main.ts`",
      },
      {
        figure: "compiled binary `dist/snapcron`",
        snapcron: binary === undefined
          ? "not built: `deno task compile` needs denort (downloaded, or `DENORT_BIN`; see README)"
          : `${fixed(binary.size / MiB, 1)} MiB`,
        peer: "—",
        ratio: "—",
        target: "—",
        met: "n/a",
        command: "`deno task compile`",
      },
    ];
    const probeLines = probes.map(({ specifier, rss }) =>
      `| \`${specifier}\` | ${fixed(rss / MiB, 1)} | +${fixed((rss - baseline) / MiB, 1)} | ${
        graph.paths.get(specifier) ?? "not loaded by `main.ts`"
      } |`
    );
    const markdown = `## footprint

\`snapcron run\` with 10 command jobs (\`@yearly\`, so none fires) and the status server, against
a bare \`Deno.serve\` (\`scripts/bench/_bare_server.ts\`), both as \`deno run\` children: the time
from spawning the process to its first answer on \`GET /\` (polled every 5 ms), and its
\`VmRSS\` after idling ${values.idle} past that answer. Medians of ${runs} run(s), alternating.
snapcron runs with the runtime flags of the \`snapcron\` task (${
      flags.length > 0 ? flags.map((flag) => `\`${flag}\``).join(" ") : "none"
    }; the compiled binary and the image have them built in), and once more without them.

${table(rows)}

Where idle memory goes: the RSS of a bare server run with the same runtime flags (${
      fixed(baseline / MiB, 1)
    } MiB) that first imports one module, and how \`main.ts\` reaches it (static imports only; a
module reached only through \`import()\` is loaded when first used):

| module | idle RSS (MiB) | over the bare server | static import path from \`main.ts\` |
| --- | --- | --- | --- |
${probeLines.join("\n")}

npm packages that \`deno info main.ts\` lists (it counts type-only and \`import()\` dependencies
too): ${graph.npmRoots.join(", ")} (${graph.npm} packages with their dependencies). At run time
\`main.ts\` loads none of them as npm packages (\`tests/module_graph_test.ts\` keeps it so):
\`yaml\` is loaded as ES modules from \`node_modules\`, and the S3 module with the AWS SDK on first
use.

${PROFILE_NOTES}

${machineFacts(load)}`;
    await writeSection(docPath(values.doc), "footprint", markdown);
    print(table(rows));
    print(probeLines.join("\n"));
  } finally {
    load.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Spawns `argv`, times its first answer on `port`, reads its RSS `idleMs` later, stops it. */
async function sample(argv: string[], port: number, idleMs: number): Promise<Sample> {
  const started = performance.now();
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, 20_000, 5);
    const startMs = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    return { startMs, rss: procMemory(child.pid, "VmRSS"), hwm: procMemory(child.pid, "VmHWM") };
  } catch (error) {
    throw new Error(`${argv.slice(-3).join(" ")}: ${error}\n${await Promise.race([stderr, ""])}`);
  } finally {
    await stopChildren([child], "SIGTERM");
    await stderr;
  }
}

interface Graph {
  modules: number;
  local: number;
  npm: number;
  /** The npm packages `main.ts` imports (not their dependencies). */
  npmRoots: string[];
  /** For each probe: `main.ts → … → module`, following static imports only. */
  paths: Map<string, string>;
}

interface InfoModule {
  specifier: string;
  kind?: string;
  dependencies?: { specifier: string; code?: { specifier: string }; isDynamic?: boolean }[];
}

async function dependencyGraph(): Promise<Graph> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`deno info failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    roots: string[];
    modules: InfoModule[];
    redirects: Record<string, string>;
    npmPackages: Record<string, unknown>;
  };
  const bySpecifier = new Map(info.modules.map((module) => [module.specifier, module]));
  const resolve = (specifier: string) => info.redirects[specifier] ?? specifier;
  // Breadth first over static imports: the shortest chain to every module.
  const root = resolve(info.roots[0]!);
  const parent = new Map<string, string | null>([[root, null]]);
  const queue = [root];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const dependency of bySpecifier.get(current)?.dependencies ?? []) {
      if (dependency.isDynamic || dependency.code === undefined) continue;
      const next = resolve(dependency.code.specifier);
      if (parent.has(next)) continue;
      parent.set(next, current);
      queue.push(next);
    }
  }
  const short = (specifier: string) =>
    specifier.replace(`file://${ROOT}/`, "").replace(/^npm:\/?/, "npm:").replace(/@[\d.]+$/, "");
  const chain = (target: string) => {
    const steps: string[] = [];
    for (let at: string | null | undefined = target; at; at = parent.get(at)) {
      steps.unshift(short(at));
    }
    return steps.join(" → ");
  };
  const paths = new Map<string, string>();
  for (const probe of PROBES) {
    const target = [...parent.keys()].find((specifier) =>
      probe.startsWith("src/")
        ? specifier === `file://${ROOT}/${probe}`
        : probe.startsWith("node:")
        ? specifier === probe
        : specifier.startsWith(`npm:/${probe}@`)
    );
    if (target !== undefined) paths.set(probe, chain(target));
  }
  return {
    modules: info.modules.length,
    local: info.modules.filter((module) => module.specifier.startsWith("file:")).length,
    npm: Object.keys(info.npmPackages).length,
    npmRoots: info.modules.filter((module) => module.kind === "npm").map((module) =>
      short(module.specifier)
    ),
    paths,
  };
}

if (import.meta.main) await main();
