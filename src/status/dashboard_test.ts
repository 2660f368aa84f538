import assert from "node:assert/strict";
import { type RunRecord, type RunResult, RunStore } from "../runner/mod.ts";
import { renderDashboard } from "./_dashboard.ts";
import type { StatusSource } from "./_handler.ts";
import type { StatusJob } from "./_json.ts";

const NOW = new Date("2026-01-01T12:00:00Z");

function job(name: string, extra: Partial<StatusJob> = {}): StatusJob {
  return { name, kind: "command", schedule: "*/5 * * * *", timezone: "UTC", ...extra };
}

function finished(
  name: string,
  result: RunResult,
  exitStatus: number,
  at: string,
  output: { stdout?: string; stderr?: string; error?: string } = {},
): RunRecord {
  const startedAt = new Date(at);
  return {
    job: name,
    id: `${name}-${at}`,
    trigger: "schedule",
    startedAt,
    endedAt: new Date(startedAt.getTime() + 2500),
    result,
    exitStatus,
    attempts: 1,
    stdout: output.stdout ?? "",
    stderr: output.stderr ?? "",
    pid: 42,
    artifacts: [],
    ...(output.error ? { error: output.error } : {}),
  };
}

function source(store: RunStore, jobs: StatusJob[]): StatusSource {
  return { jobs: () => jobs, history: (name) => store.get(name) };
}

/** The `[data-job, data-state]` pairs of the job rows, in page order. */
function rows(html: string): string[][] {
  return [...html.matchAll(/<tr class="job [^"]*" data-job="([^"]*)" data-state="([^"]*)">/g)]
    .map((match) => [match[1]!, match[2]!]);
}

Deno.test("renderDashboard() gives one row per job with its state and the overall health", () => {
  const store = new RunStore();
  store.declare("fresh");
  store.finish(finished("good", "success", 0, "2026-01-01T11:57:00Z", { stdout: "fine\n" }));
  store.finish(finished("bad", "success", 0, "2026-01-01T11:50:00Z"));
  store.finish(finished("bad", "failure", 3, "2026-01-01T11:55:00Z", { stderr: "broken\n" }));
  const jobs = [
    job("good", { next: new Date("2026-01-01T12:00:20Z"), reading: "5 fields, minute first" }),
    job("bad", { schedule: "@hourly", timezone: "Europe/Berlin" }),
    job("fresh"),
  ];
  const html = renderDashboard(source(store, jobs), { now: NOW, version: "1.2.3" });
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<title>snapcron<\/title>/);
  assert.deepEqual(rows(html), [["good", "ok"], ["bad", "failed"], ["fresh", "never_run"]]);
  assert.match(html, /id="health">✗ 1 failing</);
  assert.match(html, /version 1\.2\.3/);
  assert.match(html, /<time datetime="2026-01-01T11:57:00Z">2026-01-01T11:57:00Z<\/time>/);
  assert.match(html, /3 min ago/);
  assert.match(html, /in 20 s/);
  assert.match(html, /success, exit 0 · <span class="nw">took 2\.5 s<\/span>/);
  assert.match(html, /failure, exit 3/);
  assert.match(html, /last success 10 min ago/);
  assert.match(html, /Europe\/Berlin/);
  assert.match(html, /<code title="5 fields, minute first">\*\/5 \* \* \* \*<\/code>/);
  assert.match(html, /not scheduled/);
  assert.ok(!html.includes("<link") && !html.includes("src="), "no external assets");
});

Deno.test("renderDashboard() reports healthy when no job fails", () => {
  const store = new RunStore();
  store.finish(finished("good", "success", 0, "2025-12-01T12:00:00Z"));
  const html = renderDashboard(source(store, [job("good")]), { now: NOW });
  assert.match(html, /id="health">✓ healthy</);
  assert.match(html, /31 d ago/);
  assert.ok(!html.includes("data-output-of"), "no output block for a passing job");
});

Deno.test("renderDashboard() shows the stderr and stdout tails of the last failure", () => {
  const store = new RunStore();
  const many = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n") + "\n";
  store.finish(finished("bad", "failure", 3, "2026-01-01T11:59:00Z", {
    stderr: "disk full\n",
    stdout: many,
    error: "Command exited with status 3",
  }));
  const html = renderDashboard(source(store, [job("bad")]), { now: NOW });
  const output = html.slice(html.indexOf(`data-output-of="bad"`));
  assert.match(output, /<pre>disk full<\/pre>/);
  assert.match(output, /Command exited with status 3/);
  assert.match(output, /stdout \(last part\):/);
  assert.match(output, /line 99<\/pre>/);
  assert.ok(!output.includes("line 59\n"), "only the tail of long output");
});

Deno.test("renderDashboard() escapes everything that comes from config and records", () => {
  const evil = `<script>alert("x")</script>`;
  const store = new RunStore();
  store.finish(finished(evil, "failure", 1, "2026-01-01T11:59:00Z", {
    stdout: evil,
    stderr: `${evil}\n<img src=x onerror=alert(1)>`,
    error: evil,
  }));
  const running = finished(evil, "success", 0, "2026-01-01T11:59:30Z");
  delete running.endedAt;
  delete running.result;
  delete running.exitStatus;
  running.id = "running";
  running.progress = { message: evil, percent: 50 };
  store.update(running);
  const jobs = [job(evil, { schedule: evil, timezone: evil, reading: evil, kind: evil })];
  const html = renderDashboard(source(store, jobs), { now: NOW, version: evil });
  assert.ok(!/<script|<img/i.test(html), "no markup from records or config survives");
  assert.ok(!html.includes(`"x"`), "quotes are escaped too");
  assert.match(html, /&#60;script&#62;alert\(&#34;x&#34;\)&#60;\/script&#62;/);
  assert.deepEqual(rows(html), [[`&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;`, "failed"]]);
});

Deno.test("renderDashboard() shows a stale job as a warning with a text label", () => {
  const store = new RunStore();
  store.finish(finished("nightly", "success", 0, "2025-12-30T12:00:00Z"));
  const jobs = [job("nightly", { staleAfterMs: 25 * 3600_000 })];
  const html = renderDashboard(source(store, jobs), { now: NOW });
  assert.deepEqual(rows(html), [["nightly", "stale"]]);
  assert.match(html, /<tr class="job warn"/);
  assert.match(html, /<span class="badge warn">! stale<\/span>/);
  assert.match(html, /id="health">! 1 stale</);
  assert.match(html, /2 d ago/);
});

Deno.test("renderDashboard() shows a running run's elapsed time and progress", () => {
  const store = new RunStore();
  store.finish(finished("dump", "success", 0, "2026-01-01T11:00:00Z"));
  store.finish(finished("dump", "timeout", 124, "2026-01-01T11:10:00Z"));
  store.finish(finished("dump", "cancelled", 143, "2026-01-01T11:20:00Z"));
  store.update({
    job: "dump",
    id: "now",
    trigger: "schedule",
    startedAt: new Date("2026-01-01T11:58:30Z"),
    attempts: 1,
    stdout: "",
    stderr: "",
    pid: 7,
    artifacts: [],
    progress: { bytes: 1536, totalBytes: 3 * 1024 ** 2, done: 2, total: 5, percent: 40 },
  });
  const html = renderDashboard(source(store, [job("dump")]), { now: NOW });
  assert.match(html, /running for 1 min 30 s \(pid 7\)/);
  assert.match(html, /40% · 1\.5 KiB of 3\.0 MiB · 2\/5 done/);
  assert.match(html, /<progress max="100" value="40">/);
  const strip = [...html.matchAll(/<span class="run (\w+)" role="img" title="([^"]*)"/g)]
    .map((match) => `${match[1]} ${match[2]}`);
  assert.deepEqual(strip, [
    "good 2026-01-01T11:00:00Z: success, exit 0",
    "bad 2026-01-01T11:10:00Z: timeout, exit 124",
    "idle 2026-01-01T11:20:00Z: cancelled, exit 143",
    "info 2026-01-01T11:58:30Z: running",
  ], "oldest first, the running run last");
});

Deno.test("renderDashboard() refreshes every 10 s unless told otherwise", () => {
  const src = source(new RunStore(), []);
  assert.match(
    renderDashboard(src, { now: NOW }),
    /<meta http-equiv="refresh" content="10">/,
  );
  assert.match(
    renderDashboard(src, { now: NOW, refreshSeconds: 60 }),
    /<meta http-equiv="refresh" content="60">/,
  );
  assert.ok(!renderDashboard(src, { now: NOW, refreshSeconds: 0 }).includes(`"refresh"`));
  assert.match(renderDashboard(src, { now: NOW }), /No jobs configured/);
  assert.throws(() => renderDashboard(src, { now: NOW, refreshSeconds: -1 }), RangeError);
});
