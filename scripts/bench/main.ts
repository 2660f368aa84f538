/**
 * `deno task bench [NAME] [ARGS]`: runs the by-hand benchmarks, each against a peer measured in
 * the same run (times on this shared machine are noisy; ratios are what count). Each benchmark
 * rewrites its own section of `docs/benchmarks.md` (`--doc FILE` to write elsewhere).
 *
 * `deno task bench smoke` runs every benchmark with tiny inputs into a throwaway document and
 * exits non-zero when one of them crashes (a missed target is not a crash).
 */
const BENCHES: Record<string, { file: string; about: string; smoke: string[] }> = {
  s3_upload: {
    file: "s3_upload.ts",
    about: "S3Storage.put() of a stream into s3proxy against rclone rcat and aws s3 cp",
    smoke: ["--size", "8MiB", "--runs", "1"],
  },
  etcd_backup: {
    file: "etcd_backup.ts",
    about: "snapcron once (etcd job into S3) against etcdctl snapshot save (+ aws s3 cp)",
    smoke: ["--mb", "4", "--runs", "1"],
  },
  es_overhead: {
    file: "es_overhead.ts",
    about: "snapcron once (Elasticsearch job) against curl wait_for_completion: delay, polling",
    smoke: ["--mb", "1", "--rate", "1mb", "--runs", "1"],
  },
  schedule: {
    file: "schedule.ts",
    about: "lateness of every-second runs, snapcron run against robfig/cron, idle and under wrk",
    smoke: ["--runs", "5"],
  },
  status: {
    file: "status.ts",
    about: "wrk against snapcron's GET / with 10 jobs, against a bare Deno.serve",
    smoke: ["--duration", "2s", "--runs", "1"],
  },
  footprint: {
    file: "footprint.ts",
    about: "idle RSS and start-up time of snapcron run, against a bare Deno.serve; dependencies",
    smoke: ["--runs", "1", "--idle", "1s"],
  },
  etcd_snapshot: {
    file: "etcd_snapshot.ts",
    about: "EtcdClient.snapshot() over gRPC and the gateway against etcdctl snapshot save",
    smoke: ["--mb", "4", "--runs", "1"],
  },
};

const encoder = new TextEncoder();

function say(line: string, stream: "out" | "err" = "out"): void {
  (stream === "out" ? Deno.stdout : Deno.stderr).writeSync(encoder.encode(line + "\n"));
}

async function runBench(name: string, args: string[]): Promise<number> {
  const entry = BENCHES[name]!;
  say(`== ${name}: ${entry.about}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL(entry.file, import.meta.url).pathname, ...args],
  }).spawn().status;
  return code;
}

async function smoke(): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "snapcron-bench-smoke-" });
  const failed: string[] = [];
  try {
    for (const [name, entry] of Object.entries(BENCHES)) {
      const args = [...entry.smoke];
      // etcd_snapshot only prints; the others write their section.
      if (name !== "etcd_snapshot") args.push("--doc", `${dir}/benchmarks.md`);
      const started = performance.now();
      const code = await runBench(name, args);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      say(`== ${name}: ${code === 0 ? "ok" : `CRASHED (exit code ${code})`} in ${seconds} s`);
      if (code !== 0) failed.push(name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  if (failed.length > 0) {
    say(`Benchmarks that crashed: ${failed.join(", ")}`, "err");
    return 1;
  }
  say(`All ${Object.keys(BENCHES).length} benchmarks ran`);
  return 0;
}

async function main(): Promise<number> {
  const [name, ...rest] = Deno.args;
  if (name === "smoke") return await smoke();
  const chosen = name === undefined || name.startsWith("-") ? Object.keys(BENCHES) : [name];
  const args = name === undefined || name.startsWith("-") ? Deno.args : rest;
  for (const bench of chosen) {
    if (!BENCHES[bench]) {
      say(
        `Unknown benchmark "${bench}": use one of ${Object.keys(BENCHES).join(", ")} or smoke`,
        "err",
      );
      return 2;
    }
  }
  for (const bench of chosen) {
    const code = await runBench(bench, args);
    if (code !== 0) return code;
  }
  return 0;
}

Deno.exit(await main());
