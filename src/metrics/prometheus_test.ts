import assert from "node:assert/strict";
import { type RunRecord, RunStore } from "../runner/mod.ts";
import { type MetricsSource, PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./mod.ts";

function record(
  job: string,
  result: "success" | "failure" | "timeout" | "cancelled",
  at: string,
  extra: Partial<RunRecord> = {},
): RunRecord {
  const startedAt = new Date(at);
  return {
    job,
    id: `${job}-${at}`,
    trigger: "schedule",
    startedAt,
    endedAt: new Date(startedAt.getTime() + 1500),
    result,
    exitStatus: result === "success" ? 0 : 3,
    attempts: 1,
    stdout: "",
    stderr: "",
    artifacts: [],
    ...extra,
  };
}

function sourceFor(store: RunStore, next: Record<string, Date | undefined> = {}): MetricsSource {
  return {
    jobs: () =>
      store.names().map((name) => {
        const at = next[name];
        return at ? { name, next: at } : { name };
      }),
    history: (name) => store.get(name),
  };
}

/** A record without an end: still running, or (bad data) finished without an end time. */
function unended(value: RunRecord, running = false): RunRecord {
  const copy = { ...value };
  delete copy.endedAt;
  if (running) delete copy.result;
  return copy;
}

/** Sample lines as `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** A store with every family populated, plus a job never run and one with an awkward name. */
function busyStore(): { store: RunStore; source: MetricsSource } {
  const store = new RunStore();
  store.declare("never");
  store.finish(
    record("db", "success", "2026-01-01T00:00:00Z", {
      artifacts: [{ kind: "file", name: "a.tar", size: 1000 }, { kind: "file", name: "b.tar" }],
      deletions: 2,
    }),
  );
  store.finish(record("db", "failure", "2026-01-01T01:00:00Z"));
  store.finish(record("db", "timeout", "2026-01-01T02:00:00Z", { exitStatus: 124 }));
  store.finish(unended(record("db", "success", "2026-01-01T03:00:00Z")));
  store.update(unended(record("db", "success", "2026-01-01T04:00:00Z"), true));
  store.skip("db", "previous run still running (overlap: skip)", new Date("2026-01-01T04:00:01Z"));
  store.finish(record('we"ird\\job\nx', "cancelled", "2026-01-01T00:00:00Z"));
  const source = sourceFor(store, { db: new Date("2026-01-01T05:00:00Z") });
  return { store, source };
}

Deno.test("PROMETHEUS_CONTENT_TYPE names text format 0.0.4", () => {
  assert.deepEqual(PROMETHEUS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
});

Deno.test("renderPrometheus() gives zeroed counters and no last-run gauges before the first run", () => {
  const store = new RunStore();
  store.declare("backup");
  const text = renderPrometheus(sourceFor(store), { version: "1.2.3" });
  assert.deepEqual(
    text,
    [
      "# HELP snapcron_runs_total Finished runs by result.",
      "# TYPE snapcron_runs_total counter",
      'snapcron_runs_total{job="backup",result="success"} 0',
      'snapcron_runs_total{job="backup",result="failure"} 0',
      'snapcron_runs_total{job="backup",result="timeout"} 0',
      'snapcron_runs_total{job="backup",result="cancelled"} 0',
      "# HELP snapcron_run_duration_seconds_total Seconds spent in finished runs.",
      "# TYPE snapcron_run_duration_seconds_total counter",
      'snapcron_run_duration_seconds_total{job="backup"} 0',
      "# HELP snapcron_last_run_duration_seconds Duration of the last finished run.",
      "# TYPE snapcron_last_run_duration_seconds gauge",
      "# HELP snapcron_last_run_success 1 when the last finished run succeeded, 0 when it did not.",
      "# TYPE snapcron_last_run_success gauge",
      "# HELP snapcron_last_success_timestamp_seconds Unix time the last successful run ended.",
      "# TYPE snapcron_last_success_timestamp_seconds gauge",
      "# HELP snapcron_last_failure_timestamp_seconds Unix time the last failed, timed out or " +
      "cancelled run ended.",
      "# TYPE snapcron_last_failure_timestamp_seconds gauge",
      "# HELP snapcron_next_run_timestamp_seconds Unix time of the next scheduled run.",
      "# TYPE snapcron_next_run_timestamp_seconds gauge",
      "# HELP snapcron_running Runs in progress.",
      "# TYPE snapcron_running gauge",
      'snapcron_running{job="backup"} 0',
      "# HELP snapcron_backup_bytes_total Bytes of artifacts written by successful runs.",
      "# TYPE snapcron_backup_bytes_total counter",
      'snapcron_backup_bytes_total{job="backup"} 0',
      "# HELP snapcron_retention_deletions_total Backups or snapshots deleted by retention.",
      "# TYPE snapcron_retention_deletions_total counter",
      'snapcron_retention_deletions_total{job="backup"} 0',
      "# HELP snapcron_skipped_runs_total Runs that were due but did not start (overlap, " +
      "missed deadline).",
      "# TYPE snapcron_skipped_runs_total counter",
      'snapcron_skipped_runs_total{job="backup"} 0',
      "# HELP snapcron_build_info Always 1; the version label names the running snapcron.",
      "# TYPE snapcron_build_info gauge",
      'snapcron_build_info{version="1.2.3"} 1',
      "",
    ].join("\n"),
  );
});

Deno.test("renderPrometheus() counts runs by result and reports the last runs", () => {
  const { source } = busyStore();
  const values = samples(renderPrometheus(source, { version: "0.1.0" }));
  const db = '{job="db"}';
  assert.deepEqual(values.get('snapcron_runs_total{job="db",result="success"}'), 2);
  assert.deepEqual(values.get('snapcron_runs_total{job="db",result="failure"}'), 1);
  assert.deepEqual(values.get('snapcron_runs_total{job="db",result="timeout"}'), 1);
  assert.deepEqual(values.get('snapcron_runs_total{job="db",result="cancelled"}'), 0);
  // The last success had no end time: it adds no duration and shows no last duration.
  assert.deepEqual(values.get(`snapcron_run_duration_seconds_total${db}`), 4.5);
  assert.deepEqual(values.get(`snapcron_last_run_duration_seconds${db}`), undefined);
  assert.deepEqual(values.get(`snapcron_last_run_success${db}`), 1);
  assert.deepEqual(
    values.get(`snapcron_last_success_timestamp_seconds${db}`),
    Date.parse("2026-01-01T03:00:00Z") / 1000,
  );
  assert.deepEqual(
    values.get(`snapcron_last_failure_timestamp_seconds${db}`),
    Date.parse("2026-01-01T02:00:01.500Z") / 1000,
  );
  assert.deepEqual(
    values.get(`snapcron_next_run_timestamp_seconds${db}`),
    Date.parse("2026-01-01T05:00:00Z") / 1000,
  );
  assert.deepEqual(values.get(`snapcron_running${db}`), 1);
  assert.deepEqual(values.get(`snapcron_backup_bytes_total${db}`), 1000);
  assert.deepEqual(values.get(`snapcron_retention_deletions_total${db}`), 2);
  assert.deepEqual(values.get(`snapcron_skipped_runs_total${db}`), 1);
  assert.deepEqual(values.get('snapcron_build_info{version="0.1.0"}'), 1);
  // A job never run has counters but no last-run gauges.
  assert.deepEqual(values.get('snapcron_runs_total{job="never",result="failure"}'), 0);
  assert.deepEqual(values.get('snapcron_last_run_success{job="never"}'), undefined);
  assert.deepEqual(values.get('snapcron_last_success_timestamp_seconds{job="never"}'), undefined);
  assert.deepEqual(values.get('snapcron_next_run_timestamp_seconds{job="never"}'), undefined);
});

Deno.test("renderPrometheus() reports the last finished run's duration and failure as 0", () => {
  const store = new RunStore();
  store.finish(record("db", "success", "2026-01-01T00:00:00Z"));
  store.finish(record("db", "failure", "2026-01-01T01:00:00Z", {
    endedAt: new Date("2026-01-01T01:00:42.250Z"),
  }));
  const values = samples(renderPrometheus(sourceFor(store)));
  assert.deepEqual(values.get('snapcron_last_run_duration_seconds{job="db"}'), 42.25);
  assert.deepEqual(values.get('snapcron_last_run_success{job="db"}'), 0);
  assert.deepEqual(values.get('snapcron_build_info{version="unknown"}'), 1);
});

Deno.test("renderPrometheus() escapes backslash, quote and newline in label values", () => {
  const { source } = busyStore();
  const text = renderPrometheus(source);
  assert.ok(
    text.includes('snapcron_runs_total{job="we\\"ird\\\\job\\nx",result="cancelled"} 1\n'),
    text,
  );
  assert.ok(!text.includes("job\nx"));
});

Deno.test("renderPrometheus() groups each family and lists a job once", () => {
  const store = new RunStore();
  store.declare("a");
  store.declare("b");
  const source: MetricsSource = {
    jobs: () => [{ name: "a" }, { name: "b" }, { name: "a" }],
    history: (name) => store.get(name),
  };
  const names = renderPrometheus(source)
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.slice(0, line.indexOf("{")));
  const order = names.filter((name, i) => name !== names[i - 1]);
  assert.deepEqual(new Set(order).size, order.length, "a family is split");
  assert.deepEqual(names.filter((name) => name === "snapcron_running").length, 2);
});

async function findPromtool(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("promtool", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch (error) {
    // Only a missing binary skips; a missing --allow-run must fail loudly.
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

const hasPromtool = await findPromtool();
const inCi = Deno.env.get("CI") === "true";

Deno.test({
  name: "renderPrometheus() output passes promtool check metrics" +
    (hasPromtool || inCi
      ? ""
      : " (ignored: promtool not found, install the Debian package prometheus)"),
  ignore: !hasPromtool && !inCi,
  async fn() {
    if (!hasPromtool) {
      throw new Error(
        'Cannot run "promtool check metrics": promtool not found (install the Debian package ' +
          '"prometheus": apt-get install -y --no-install-recommends prometheus)',
      );
    }
    const { source } = busyStore();
    const child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(renderPrometheus(source, { version: "0.1.0" })));
    await writer.close();
    const { code, stdout, stderr } = await child.output();
    const report = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    assert.deepEqual({ code, report }, { code: 0, report: "" });
  },
});
