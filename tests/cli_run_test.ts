import assert from "node:assert/strict";
import { collect, freePort, snapcron, spawnSnapcron, tempConfig, waitFor } from "./_cli.ts";

// deno-lint-ignore no-explicit-any -- the status JSON is checked field by field below
async function getJson(url: string): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

/**
 * `snapcron run` on the config `yaml` gives for a free status port. `stop()` sends SIGTERM, waits
 * for the exit and the output, removes the config and returns the exit code.
 */
async function startDaemon(yaml: (port: number) => string, args: string[] = []) {
  const port = freePort();
  const config = await tempConfig(yaml(port));
  const child = spawnSnapcron(["run", "--config", config, ...args]);
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    config,
    stderr,
    async stop(): Promise<number> {
      try {
        child.kill("SIGTERM");
      } catch {
        // Gone already.
      }
      const { code } = await child.status;
      await Promise.all([stdout.done, stderr.done]);
      await Deno.remove(config);
      return code;
    },
    signal: (signal: Deno.Signal) => child.kill(signal),
  };
}

Deno.test("snapcron run serves go-cron status for a passing and a failing job", async () => {
  const daemon = await startDaemon((port) => `
status:
  listen: "127.0.0.1:${port}"
shutdown_grace: 5s
jobs:
  good:
    schedule: "* * * * * *"
    command: ["/bin/echo", "all good"]
  bad:
    schedule: "* * * * * *"
    shell: "echo broken >&2; exit 3"
`, ["--log-format", "json"]);
  const { base, stderr } = daemon;
  let code = -1;
  try {
    const overview = await waitFor("both jobs to finish a run", async () => {
      const result = await getJson(`${base}/`);
      const jobs = result.body.jobs;
      return jobs.good.history.length > 0 && jobs.bad.history.length > 0 ? result : undefined;
    });
    assert.deepEqual(overview.status, 503, "a failing job makes / answer 503");
    for (const key of ["Running", "Last", "Schedule"]) {
      assert.ok(key in overview.body, `key ${key}`);
    }
    assert.deepEqual(
      Object.keys(overview.body.Last).sort(),
      ["ExitTime", "Exit_status", "Pid", "StartingTime", "Stderr", "Stdout"],
    );
    assert.deepEqual(overview.body.Last.Exit_status, 3);
    assert.deepEqual(overview.body.Last.Stderr, "broken\n");

    const good = await getJson(`${base}/jobs/good`);
    assert.deepEqual(good.status, 200);
    assert.deepEqual(good.body.Last.Exit_status, 0);
    assert.deepEqual(good.body.Last.Stdout, "all good\n");
    assert.ok(typeof good.body.next_run === "string");

    const bad = await getJson(`${base}/jobs/bad`);
    assert.deepEqual(bad.status, 503);

    const alive = await snapcron(["healthcheck", "--url", base]);
    assert.equal(alive.code, 0, alive.stderr);
    const ready = await snapcron(["healthcheck", "--url", base, "--ready"]);
    assert.equal(ready.code, 1, "a failing job makes the readiness probe fail");
    assert.match(ready.stderr, /HTTP 503/);

    const health = await fetch(`${base}/healthz`);
    assert.deepEqual(health.status, 200);
    await health.body?.cancel();
  } finally {
    code = await daemon.stop();
  }
  assert.deepEqual(code, 0, `snapcron exits 0 on SIGTERM:\n${stderr.text()}`);
  const lines = stderr.text().trim().split("\n").map((line) => JSON.parse(line));
  assert.ok(
    lines.some((line) => line.job === "good" && line.msg === "all good"),
    "job output is logged as JSON",
  );
  assert.ok(lines.some((line) => line.msg === "SIGTERM: stopping"));
});

Deno.test("snapcron run starts a scheduled command from a process made before its second", async () => {
  // The age of the script's own process when it runs: field 22 of /proc/PID/stat is its start
  // in clock ticks after boot, /proc/uptime the time now. ($$ is a literal $ in a config.)
  const daemon = await startDaemon((port) => `
status: { listen: "127.0.0.1:${port}" }
jobs:
  tick:
    schedule: "* * * * * *"
    shell: "echo $(cut -d' ' -f22 /proc/$$$$/stat) $(getconf CLK_TCK) $(cut -d' ' -f1 /proc/uptime)"
`);
  let code = -1;
  try {
    const outputs = new Map<string, string>();
    await waitFor("four runs", async () => {
      const { body } = await getJson(`${daemon.base}/jobs/tick`);
      if (body.Last.ExitTime) outputs.set(body.Last.StartingTime, body.Last.Stdout);
      return outputs.size >= 4 || undefined;
    });
    // The first second may come less than 100 ms after the start: prepared late, or not at all.
    const later = [...outputs.entries()].sort(([a], [b]) => a.localeCompare(b)).slice(1);
    const ages = later.map(([, stdout]) => {
      const [ticks, perSecond, uptime] = stdout.trim().split(" ").map(Number);
      return uptime! - ticks! / perSecond!;
    });
    // Made 100 ms before the second; a process spawned at the second would be 0–10 ms old.
    assert.ok(ages.every((age: number) => age >= 0.04), `ages ${ages}`);
  } finally {
    code = await daemon.stop();
  }
  assert.deepEqual(code, 0, daemon.stderr.text());
});

/** Processes whose command line contains `text` (pgrep -f), other than pgrep itself. */
async function processesWith(text: string): Promise<string[]> {
  const { stdout } = await new Deno.Command("pgrep", { args: ["-a", "-f", text] }).output();
  return new TextDecoder().decode(stdout).split("\n").filter((line) =>
    line && !line.includes("pgrep")
  );
}

Deno.test("snapcron run ends the start it prepared for a job a reload removed", async () => {
  const marker = `prepared-${crypto.randomUUID()}`;
  const daemon = await startDaemon((port) => `
status: { listen: "127.0.0.1:${port}" }
jobs:
  tick:
    schedule: "* * * * * *"
    command: ["/bin/echo", "${marker}"]
`);
  let code = -1;
  try {
    await waitFor("a first run", async () => {
      const { body } = await getJson(`${daemon.base}/jobs/tick`);
      return body.Last.ExitTime ? true : undefined;
    });
    await Deno.writeTextFile(
      daemon.config,
      `status: { listen: "127.0.0.1:${daemon.port}" }\njobs:\n  other: { schedule: "@yearly", command: ["/bin/true"] }\n`,
    );
    // Inside the 100 ms before a second, when the next start waits prepared (30 ms margin).
    const intoSecond = Date.now() % 1000;
    await new Promise((resolve) => setTimeout(resolve, (1940 - intoSecond) % 1000));
    const waiting = await processesWith(marker);
    daemon.signal("SIGHUP");
    await waitFor(
      "the reload",
      () => Promise.resolve(daemon.stderr.text().includes("Configuration reloaded") || undefined),
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(
      await processesWith(marker),
      [],
      `left waiting; before the reload: ${waiting}`,
    );
    const { body } = await getJson(`${daemon.base}/`);
    assert.ok(!("tick" in body.jobs), "the job is gone");
  } finally {
    code = await daemon.stop();
  }
  assert.deepEqual(code, 0);
});

Deno.test("snapcron run re-reads the config on SIGHUP and refuses a broken one", async () => {
  const daemon = await startDaemon((port) => `
status: { listen: "127.0.0.1:${port}" }
jobs:
  first:
    schedule: "@hourly"
    command: ["/bin/true"]
`);
  const { base, stderr } = daemon;
  let code = -1;
  try {
    await waitFor("the status server", async () => (await getJson(`${base}/`)).body);
    await Deno.writeTextFile(
      daemon.config,
      `
status: { listen: "127.0.0.1:${daemon.port}" }
jobs:
  second:
    schedule: "@daily"
    command: ["/bin/true"]
`,
    );
    daemon.signal("SIGHUP");
    await waitFor("the new job", async () => {
      const { body } = await getJson(`${base}/`);
      return "second" in body.jobs && !("first" in body.jobs) ? true : undefined;
    });
    await Deno.writeTextFile(daemon.config, "jobs:\n  broken:\n    shedule: x\n");
    daemon.signal("SIGHUP");
    await waitFor(
      "the refusal",
      () => Promise.resolve(stderr.text().includes("New config refused") || undefined),
    );
    assert.match(stderr.text(), /unknown key "shedule"/);
    const { body } = await getJson(`${base}/`);
    assert.ok("second" in body.jobs, "the old config keeps running");
  } finally {
    code = await daemon.stop();
  }
  assert.deepEqual(code, 0);
});

Deno.test("snapcron run stops a running job on SIGTERM within shutdown_grace", async () => {
  const daemon = await startDaemon((port) => `
status: { listen: "127.0.0.1:${port}" }
shutdown_grace: 1s
jobs:
  stubborn:
    schedule: "@hourly"
    run_on_start: true
    shell: "trap '' TERM; echo started; sleep 60"
`);
  await waitFor(
    "the job to start",
    () => Promise.resolve(daemon.stderr.text().includes("started") || undefined),
  );
  const started = Date.now();
  assert.deepEqual(await daemon.stop(), 0);
  assert.ok(Date.now() - started < 8000, "stopped within the grace period plus start-up slack");
  assert.match(daemon.stderr.text(), /SIGKILL/);
});

Deno.test("snapcron run gives up the permissions its config does not need, and says so", async () => {
  const daemon = await startDaemon((port) => `
status: { listen: "127.0.0.1:${port}" }
storage:
  s3: { type: s3, bucket: b, endpoint: "http://127.0.0.1:9", region: us-east-1 }
jobs:
  etcd:
    schedule: "@yearly"
    etcd: { endpoints: ["http://127.0.0.1:9"] }
    upload: { storage: s3 }
`);
  const { stderr } = daemon;
  let code = -1;
  try {
    await waitFor(
      "start-up",
      () => Promise.resolve(stderr.text().includes("Status server listening") || undefined),
    );
    assert.match(stderr.text(), /Dropped permissions this config does not need: run, write/);
    await Deno.writeTextFile(
      daemon.config,
      `
status: { listen: "127.0.0.1:${daemon.port}" }
jobs:
  cmd: { schedule: "@yearly", command: ["/bin/true"] }
`,
    );
    daemon.signal("SIGHUP");
    await waitFor(
      "the refusal",
      () => Promise.resolve(stderr.text().includes("New config refused") || undefined),
    );
    assert.match(
      stderr.text(),
      /needs the run permission, given up at start .*: restart snapcron to load it/,
    );
  } finally {
    code = await daemon.stop();
  }
  assert.equal(code, 0);
});
