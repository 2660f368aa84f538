import assert from "node:assert/strict";
import { type RunRecord, RunStore } from "../runner/mod.ts";
import { constantTimeEqual, createStatusHandler, type StatusJob } from "./mod.ts";

const jobs: StatusJob[] = [
  {
    name: "backup",
    kind: "command",
    schedule: "0/10 * * * * *",
    timezone: "UTC",
    next: new Date("2026-01-01T00:00:10Z"),
  },
];

function record(
  job: string,
  result: "success" | "failure",
  exitStatus: number,
  at: string,
): RunRecord {
  return {
    job,
    id: `${job}-${at}`,
    trigger: "schedule",
    startedAt: new Date(at),
    endedAt: new Date(new Date(at).getTime() + 1500),
    result,
    exitStatus,
    attempts: 1,
    stdout: "out\n",
    stderr: result === "success" ? "" : "boom\n",
    pid: 22,
    artifacts: [],
  };
}

function handlerFor(store: RunStore, list = jobs) {
  return createStatusHandler({ jobs: () => list, history: (name) => store.get(name) }, {
    now: () => new Date("2026-01-01T00:00:05Z"),
  });
}

async function get(handler: (r: Request) => Response, path: string) {
  const response = handler(new Request(`http://localhost${path}`));
  return { status: response.status, body: await response.json() };
}

Deno.test("GET / answers go-cron's JSON with 200 before the first run", async () => {
  const store = new RunStore();
  store.declare("backup");
  const { status, body } = await get(handlerFor(store), "/");
  assert.deepEqual(status, 200);
  assert.deepEqual(body.Running, {});
  assert.deepEqual(body.Schedule, "0/10 * * * * *");
  assert.deepEqual(body.Last, {
    Exit_status: 0,
    Stdout: "",
    Stderr: "",
    ExitTime: "",
    Pid: 0,
    StartingTime: "",
  });
  assert.deepEqual(body.jobs.backup.state, "never_run");
});

Deno.test("GET / answers 503 with the failed run's output after a failure", async () => {
  const store = new RunStore();
  store.finish(record("backup", "failure", 2, "2015-01-03T13:36:29Z"));
  const { status, body } = await get(handlerFor(store), "/");
  assert.deepEqual(status, 503);
  assert.deepEqual(body.Last.Exit_status, 2);
  assert.deepEqual(body.Last.Stderr, "boom\n");
  assert.deepEqual(body.Last.Pid, 22);
  assert.deepEqual(body.Last.StartingTime, "2015-01-03T13:36:29Z");
  assert.deepEqual(body.Last.ExitTime, "2015-01-03T13:36:30Z");
});

Deno.test("GET / turns 200 again once the job succeeds", async () => {
  const store = new RunStore();
  store.finish(record("backup", "failure", 2, "2015-01-03T13:36:29Z"));
  store.finish(record("backup", "success", 0, "2015-01-03T13:36:39Z"));
  const { status, body } = await get(handlerFor(store), "/");
  assert.deepEqual(status, 200);
  assert.deepEqual(body.Last.Exit_status, 0);
  assert.deepEqual(body.jobs.backup.history.length, 2);
});

Deno.test("GET / with several jobs is 503 while any job's last run failed", async () => {
  const store = new RunStore();
  const list: StatusJob[] = [...jobs, {
    name: "report",
    kind: "command",
    schedule: "@hourly",
    timezone: "UTC",
  }];
  store.finish(record("report", "failure", 1, "2026-01-01T00:00:00Z"));
  store.finish(record("backup", "success", 0, "2026-01-01T00:00:03Z"));
  const { status, body } = await get(handlerFor(store, list), "/");
  assert.deepEqual(status, 503);
  assert.deepEqual(body.Last.Exit_status, 1, "Last shows the failing job's run");
  assert.deepEqual(Object.keys(body.jobs), ["backup", "report"]);
  assert.match(body.Schedule, /backup=0\/10 \* \* \* \* \*; report=@hourly/);
});

Deno.test("GET / lists running runs keyed by pid with elapsed time in the job", async () => {
  const store = new RunStore();
  const running = { ...record("backup", "success", 0, "2026-01-01T00:00:00Z") };
  delete running.endedAt;
  delete running.result;
  delete running.exitStatus;
  store.update(running);
  const { status, body } = await get(handlerFor(store), "/");
  assert.deepEqual(status, 200);
  assert.deepEqual(Object.keys(body.Running), ["22"]);
  assert.deepEqual(body.Running["22"].ExitTime, "");
  assert.deepEqual(body.jobs.backup.running[0].elapsed_seconds, 5);
  assert.deepEqual(body.jobs.backup.state, "running");
});

Deno.test("GET /jobs/NAME gives one job with next run and history", async () => {
  const store = new RunStore();
  store.finish(record("backup", "success", 0, "2026-01-01T00:00:00Z"));
  const { status, body } = await get(handlerFor(store), "/jobs/backup");
  assert.deepEqual(status, 200);
  assert.deepEqual(body.next_run, "2026-01-01T00:00:10.000Z");
  assert.deepEqual(body.history[0].result, "success");
  assert.deepEqual(body.history[0].duration_seconds, 1.5);
  assert.ok("Last" in body && "Running" in body && "Schedule" in body);
});

Deno.test("GET /jobs/NAME is 503 for a failing job and 404 for an unknown one", async () => {
  const store = new RunStore();
  store.finish(record("backup", "failure", 1, "2026-01-01T00:00:00Z"));
  assert.deepEqual((await get(handlerFor(store), "/jobs/backup")).status, 503);
  const missing = await get(handlerFor(store), "/jobs/nope");
  assert.deepEqual(missing.status, 404);
  assert.match(missing.body.error, /no job named "nope"/);
});

Deno.test("GET /healthz answers ok; other methods get 405", async () => {
  const handler = handlerFor(new RunStore());
  const health = handler(new Request("http://localhost/healthz"));
  assert.deepEqual(health.status, 200);
  assert.deepEqual(await health.text(), "ok\n");
  const post = handler(new Request("http://localhost/", { method: "POST" }));
  assert.deepEqual(post.status, 405);
  await post.body?.cancel();
});

Deno.test("A job with no success within alert_if_no_success_within is stale and answers 503", async () => {
  const store = new RunStore();
  store.finish(record("backup", "success", 0, "2025-12-30T00:00:00Z"));
  const stale: StatusJob[] = [{ ...jobs[0]!, staleAfterMs: 26 * 3_600_000 }];
  const overview = await get(handlerFor(store, stale), "/");
  assert.equal(overview.status, 503);
  assert.equal(overview.body.jobs.backup.state, "stale");
  assert.deepEqual(overview.body.unhealthy_jobs, ["backup"]);
  assert.equal(overview.body.Last.Exit_status, 0, "the last run itself succeeded");
  assert.equal((await get(handlerFor(store, stale), "/jobs/backup")).status, 503);
  const fresh: StatusJob[] = [{ ...jobs[0]!, staleAfterMs: 3 * 86_400_000 }];
  assert.equal((await get(handlerFor(store, fresh), "/")).status, 200);
});

Deno.test("A job that never succeeded turns stale only after the window since it was scheduled", async () => {
  const store = new RunStore();
  store.declare("backup");
  const recent: StatusJob[] = [{
    ...jobs[0]!,
    staleAfterMs: 3_600_000,
    since: new Date("2026-01-01T00:00:00Z"),
  }];
  const young = await get(handlerFor(store, recent), "/");
  assert.equal(young.status, 200);
  assert.equal(young.body.jobs.backup.state, "never_run");
  const old: StatusJob[] = [{
    ...jobs[0]!,
    staleAfterMs: 3_600_000,
    since: new Date("2025-12-31T00:00:00Z"),
  }];
  const late = await get(handlerFor(store, old), "/");
  assert.equal(late.status, 503);
  assert.equal(late.body.jobs.backup.state, "stale");
});

Deno.test("GET / gives browsers the HTML dashboard with the same status code", async () => {
  const store = new RunStore();
  store.finish(record("backup", "failure", 1, "2026-01-01T00:00:00Z"));
  const handler = handlerFor(store);
  const page = handler(
    new Request("http://localhost/", { headers: { accept: "text/html,*/*;q=0.8" } }),
  );
  assert.equal(page.status, 503);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(
    await page.text(),
    /data-job="backup"[^>]*data-state="failed"|data-state="failed"[^>]*data-job="backup"/,
  );
  const api = handler(new Request("http://localhost/", { headers: { accept: "*/*" } }));
  assert.match(api.headers.get("content-type") ?? "", /^application\/json/);
  await api.body?.cancel();
});

Deno.test("Paths route the same with a query, a fragment or trailing slashes", async () => {
  const store = new RunStore();
  store.declare("backup");
  const handler = handlerFor(store);
  for (const path of ["/?pretty=1", "/#top", "//", "/?a=/jobs"]) {
    const { status, body } = await get(handler, path);
    assert.equal(status, 200, path);
    assert.equal(body.Schedule, "0/10 * * * * *", path);
  }
  const list = await get(handler, "/jobs/?limit=5");
  assert.ok(Array.isArray(list.body));
  assert.equal((await get(handler, "/jobs/backup/")).body.name, "backup");
  assert.equal((await get(handler, "/jobs/back%75p")).body.name, "backup");
  const missing = await get(handler, "/jobs/nope?x=/jobs/backup");
  assert.equal(missing.status, 404);
  assert.match(missing.body.error, /no job named "nope"/);
  const metrics = handler(new Request("http://localhost/metrics/?x"));
  assert.match(await metrics.text(), /^# HELP /m);
});

Deno.test("GET / in JSON carries only content-type (Deno.serve's fast path); the dashboard is no-store", async () => {
  const store = new RunStore();
  store.finish(record("backup", "success", 0, "2026-01-01T00:00:00Z"));
  const handler = handlerFor(store);
  const api = handler(new Request("http://localhost/"));
  assert.deepEqual([...api.headers.keys()], ["content-type"]);
  await api.body?.cancel();
  const page = handler(new Request("http://localhost/", { headers: { accept: "text/html" } }));
  assert.equal(page.headers.get("cache-control"), "no-store");
  assert.equal(page.headers.get("vary"), "accept");
  await page.body?.cancel();
});

function actionsHandler(options: { protectReads?: boolean } = {}) {
  const calls: string[] = [];
  const audit: string[] = [];
  const handler = createStatusHandler({ jobs: () => jobs, history: () => undefined }, {
    token: "s3cret-token",
    ...options,
    actions: {
      run: (job) => {
        calls.push(`run ${job}`);
        return "started";
      },
      pause: (job) => calls.push(`pause ${job}`),
      resume: (job) => calls.push(`resume ${job}`),
    },
    audit: (message) => audit.push(message),
  });
  const post = (path: string, token?: string) =>
    handler(
      new Request(`http://localhost${path}`, {
        method: "POST",
        ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      }),
    );
  return { handler, calls, audit, post };
}

Deno.test("POST /jobs/NAME/run, pause and resume need the bearer token and are audited", async () => {
  const { calls, audit, post } = actionsHandler();
  assert.equal(post("/jobs/backup/run").status, 401);
  assert.equal(post("/jobs/backup/run", "wrong-token").status, 401);
  assert.deepEqual(calls, []);
  const run = post("/jobs/backup/run", "s3cret-token");
  assert.equal(run.status, 202);
  assert.deepEqual(await run.json(), { job: "backup", result: "started" });
  assert.equal(post("/jobs/backup/pause", "s3cret-token").status, 200);
  assert.equal(post("/jobs/backup/resume", "s3cret-token").status, 200);
  assert.equal(post("/jobs/nope/run", "s3cret-token").status, 404);
  assert.deepEqual(calls, ["run backup", "pause backup", "resume backup"]);
  assert.equal(audit.filter((line) => line.startsWith("Refused")).length, 2);
  assert.ok(audit.every((line) => !line.includes("s3cret-token")), "the token is never logged");
});

Deno.test("Without a token the mutating endpoints do not exist", () => {
  const handler = createStatusHandler({ jobs: () => jobs, history: () => undefined });
  const response = handler(new Request("http://localhost/jobs/backup/run", { method: "POST" }));
  assert.equal(response.status, 405);
});

Deno.test("protect_reads puts every read endpoint but /healthz behind the token", async () => {
  const { handler } = actionsHandler({ protectReads: true });
  for (const path of ["/", "/jobs", "/jobs/backup", "/metrics"]) {
    const response = handler(new Request(`http://localhost${path}`));
    assert.equal(response.status, 401, path);
    await response.body?.cancel();
  }
  const allowed = handler(
    new Request("http://localhost/", {
      headers: { authorization: "Bearer s3cret-token" },
    }),
  );
  assert.equal(allowed.status, 200);
  await allowed.body?.cancel();
  assert.equal(handler(new Request("http://localhost/healthz")).status, 200);
});

Deno.test("The status server refuses huge URLs and bodies before any work", async () => {
  const handler = createStatusHandler({ jobs: () => jobs, history: () => undefined });
  const long = handler(new Request(`http://localhost/jobs/${"x".repeat(5000)}`));
  assert.equal(long.status, 414);
  await long.body?.cancel();
  const big = handler(
    new Request("http://localhost/", {
      method: "POST",
      body: "x".repeat(4096),
      headers: { "content-length": "4096" },
    }),
  );
  assert.equal(big.status, 413);
  await big.body?.cancel();
});

Deno.test("constantTimeEqual() compares whole strings", () => {
  assert.ok(constantTimeEqual("abc", "abc"));
  assert.ok(!constantTimeEqual("abc", "abd"));
  assert.ok(!constantTimeEqual("abc", "abcd"));
  assert.ok(!constantTimeEqual("", "a"));
  assert.ok(constantTimeEqual("", ""));
});

Deno.test("GET / reuses its answer only while nothing changed", async () => {
  const store = new RunStore();
  store.declare("backup");
  let clock = new Date("2026-01-01T00:00:05Z");
  const handler = createStatusHandler({
    jobs: () => jobs,
    history: (name) => store.get(name),
    revision: () => store.revision,
  }, { now: () => clock });
  assert.equal((await get(handler, "/")).status, 200);
  store.finish(record("backup", "failure", 1, "2026-01-01T00:00:00Z"));
  assert.equal((await get(handler, "/")).status, 503, "a finished run shows at once");
  clock = new Date("2026-01-01T00:00:05.500Z");
  const again = await get(handler, "/");
  assert.equal(again.body.Last.Exit_status, 1);
});
