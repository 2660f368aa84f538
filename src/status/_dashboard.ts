import type { JobHistory, Progress, RunRecord } from "../runner/mod.ts";
import type { StatusSource } from "./_handler.ts";
import { jobState, type StatusJob } from "./_json.ts";

/** Options of {@linkcode renderDashboard}. */
export interface DashboardOptions {
  /** The moment the page describes; relative phrases count from it. */
  now: Date;
  version?: string;
  /** Seconds between automatic reloads; 0 turns them off. Defaults to 10. */
  refreshSeconds?: number;
}

/** The tone of a state: unknown states are warnings, so a new state is never shown as fine. */
const TONES: Record<string, string> = {
  ok: "good",
  failed: "bad",
  running: "info",
  never_run: "idle",
};
const RESULT_TONES: Record<string, string> = {
  success: "good",
  failure: "bad",
  timeout: "bad",
  cancelled: "idle",
};
// Glyphs next to the colours, so a state never rests on colour alone.
const GLYPHS: Record<string, string> = { good: "✓", bad: "✗", info: "▶", idle: "–", warn: "!" };
const OUTPUT_LINES = 40;
const OUTPUT_CHARS = 4000;

const CSS = `
:root{font:14px/1.4 system-ui,sans-serif;color:#1f2328;background:#f6f8fa}
body{margin:0 auto;padding:12px 16px;max-width:1200px}
header{display:flex;gap:12px;align-items:baseline;flex-wrap:wrap}
h1{font-size:20px;margin:0}.muted{color:#59636e;font-size:12px}
table{border-collapse:collapse;width:100%;background:#fff;margin-top:10px}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid #d1d9e0}
th{font-size:12px;color:#59636e;font-weight:600}
tr.job>th{color:inherit;font-size:14px}tr.job>:first-child{border-left:6px solid transparent}
tr.good{background:#eef8ef}tr.good>:first-child{border-left-color:#2e7d32}
tr.bad{background:#fdeceb}tr.bad>:first-child{border-left-color:#c62828}
tr.warn{background:#fff6dc}tr.warn>:first-child{border-left-color:#b26a00}
tr.info>:first-child{border-left-color:#1565c0}tr.idle>:first-child{border-left-color:#8c959f}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px;
color:#fff;white-space:nowrap}
.badge.good{background:#2e7d32}.badge.bad{background:#c62828}.badge.info{background:#1565c0}
.badge.idle{background:#616a73}.badge.warn{background:#f2b01e;color:#1f2328}
.strip{display:flex;gap:2px;flex-wrap:wrap;max-width:260px}
.run{display:inline-block;width:14px;height:16px;font-size:11px;line-height:16px;
text-align:center;color:#fff;border-radius:2px}
.run.good{background:#2e7d32}.run.bad{background:#c62828}.run.idle{background:#8c959f}
.run.info{background:#1565c0}.run.warn{background:#f2b01e;color:#1f2328}
code{font-size:12px}code,time,.nw{white-space:nowrap}pre{margin:4px 0;padding:6px;background:#1f2328;color:#f0f3f6;
font-size:12px;max-height:16em;overflow:auto;white-space:pre-wrap;word-break:break-all}
tr.output>td{background:#fdeceb;border-left:6px solid #c62828}
.error{color:#a40e26;font-weight:600}`;

/** A self-contained HTML page of every job's state, last and next run, recent runs and output. */
export function renderDashboard(source: StatusSource, options: DashboardOptions): string {
  const refresh = options.refreshSeconds ?? 10;
  if (!Number.isFinite(refresh) || refresh < 0) {
    throw new RangeError(`Cannot render the dashboard: refreshSeconds ${refresh} is not >= 0`);
  }
  const now = options.now;
  const jobs = source.jobs().map((job) => {
    const history = source.history(job.name);
    return { job, history, state: String(jobState(history, job, now)) };
  });
  const problems = new Map<string, number>();
  for (const { state } of jobs) {
    if (tone(state) === "bad" || tone(state) === "warn") {
      const word = state === "failed" ? "failing" : state.replaceAll("_", " ");
      problems.set(word, (problems.get(word) ?? 0) + 1);
    }
  }
  const healthTone = problems.has("failing") ? "bad" : "warn";
  const health = problems.size === 0
    ? `<span class="badge good" id="health">${GLYPHS.good} healthy</span>`
    : `<span class="badge ${healthTone}" id="health">${GLYPHS[healthTone]} ${
      esc([...problems].map(([word, count]) => `${count} ${word}`).join(", "))
    }</span>`;
  const rows = jobs.map(({ job, history, state }) => jobRows(job, history, state, now)).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
${refresh > 0 ? `<meta http-equiv="refresh" content="${refresh}">\n` : ""}<title>snapcron</title>
<style>${CSS}</style></head><body>
<header><h1>snapcron</h1>${health}<span class="muted">${jobs.length} job${
    jobs.length === 1 ? "" : "s"
  }${options.version ? ` · version ${esc(options.version)}` : ""} · as of ${iso(now)}${
    refresh > 0 ? ` · refreshes every ${refresh} s` : ""
  }</span></header>
<table><thead><tr><th scope="col">Job</th><th scope="col">State</th><th scope="col">Schedule</th>
<th scope="col">Last run</th><th scope="col">Next run</th>
<th scope="col">Recent runs (oldest → newest)</th></tr></thead>
<tbody>${rows || `<tr><td colspan="6" class="muted">No jobs configured.</td></tr>`}</tbody></table>
</body></html>
`;
}

function jobRows(
  job: StatusJob,
  history: JobHistory | undefined,
  state: string,
  now: Date,
): string {
  const t = tone(state);
  const last = history?.history[0];
  const running = (history?.running ?? []).map((record) =>
    `<div>running for ${span(now.getTime() - record.startedAt.getTime())}${
      record.pid !== undefined ? ` (pid ${record.pid})` : ""
    }${record.progress ? `<br>${progressText(record.progress)}` : ""}</div>`
  ).join("");
  const skipped = history?.skipped
    ? `<div class="muted">${history.skipped} skipped (overlap or late)</div>`
    : "";
  const row = `<tr class="job ${t}" data-job="${esc(job.name)}" data-state="${esc(state)}">
<th scope="row">${esc(job.name)}<div class="muted">${esc(job.kind)}</div></th>
<td><span class="badge ${t}">${GLYPHS[t]} ${
    esc(state.replaceAll("_", " "))
  }</span>${running}${skipped}</td>
<td><code${job.reading ? ` title="${esc(job.reading)}"` : ""}>${esc(job.schedule)}</code>
<div class="muted">${esc(job.timezone)}</div></td>
<td>${last ? lastRun(last, now) : `<span class="muted">never</span>`}${
    history?.lastSuccess && last?.result !== "success"
      ? `<div class="muted">last success ${relative(history.lastSuccess.startedAt, now)}</div>`
      : ""
  }</td>
<td>${job.next ? time(job.next, now) : `<span class="muted">not scheduled</span>`}</td>
<td><div class="strip">${strip(history)}</div></td></tr>\n`;
  // Output is shown while the newest finished run failed, whatever the state is called.
  if (!last || last.result === "success") return row;
  return row + `<tr class="output" data-output-of="${esc(job.name)}"><td colspan="6">
<strong>Output of the failed run started ${iso(last.startedAt)}</strong>${
    last.error ? ` <span class="error">${esc(last.error)}</span>` : ""
  }${outputBlock("stderr", last.stderr)}${outputBlock("stdout", last.stdout)}</td></tr>\n`;
}

function lastRun(record: RunRecord, now: Date): string {
  const took = record.endedAt
    ? ` · <span class="nw">took ${
      span(record.endedAt.getTime() - record.startedAt.getTime())
    }</span>`
    : "";
  const attempts = record.attempts > 1 ? ` · ${record.attempts} attempts` : "";
  return `${time(record.startedAt, now)}<div>${esc(outcome(record))}${took}${attempts}</div>`;
}

function strip(history: JobHistory | undefined): string {
  const finished = [...(history?.history ?? [])].reverse().map((record) => {
    const t = RESULT_TONES[record.result ?? ""] ?? "warn";
    const label = `${iso(record.startedAt)}: ${outcome(record)}`;
    return `<span class="run ${t}" role="img" title="${esc(label)}" aria-label="${esc(label)}">${
      GLYPHS[t]
    }</span>`;
  });
  const running = (history?.running ?? []).map((record) => {
    const label = `${iso(record.startedAt)}: running`;
    return `<span class="run info" role="img" title="${label}" aria-label="${label}">${GLYPHS.info}</span>`;
  });
  const all = [...finished, ...running];
  return all.length > 0 ? all.join("") : `<span class="muted">no runs yet</span>`;
}

function outputBlock(name: string, text: string): string {
  if (!text) return `<div class="muted">${name}: empty</div>`;
  const lines = text.replace(/\n$/, "").split("\n");
  let shown = lines.slice(-OUTPUT_LINES).join("\n");
  if (shown.length > OUTPUT_CHARS) shown = shown.slice(-OUTPUT_CHARS);
  const cut = shown.length < text.replace(/\n$/, "").length ? " (last part)" : "";
  return `<div class="muted">${name}${cut}:</div><pre>${esc(shown)}</pre>`;
}

function outcome(record: RunRecord): string {
  const result = record.result ?? "running";
  return record.exitStatus === undefined ? result : `${result}, exit ${record.exitStatus}`;
}

function progressText(progress: Progress): string {
  const parts: string[] = [];
  if (progress.percent !== undefined) parts.push(`${Math.round(progress.percent)}%`);
  if (progress.bytes !== undefined) {
    parts.push(
      bytes(progress.bytes) +
        (progress.totalBytes !== undefined ? ` of ${bytes(progress.totalBytes)}` : ""),
    );
  }
  if (progress.done !== undefined) {
    parts.push(`${progress.done}${progress.total !== undefined ? `/${progress.total}` : ""} done`);
  }
  if (progress.message) parts.push(progress.message);
  const percent = progress.percent;
  const bar = percent !== undefined && Number.isFinite(percent)
    ? `<progress max="100" value="${Math.min(100, Math.max(0, percent))}"></progress> `
    : "";
  return bar + esc(parts.join(" · "));
}

function tone(state: string): string {
  return TONES[state] ?? "warn";
}

function time(date: Date, now: Date): string {
  return `<time datetime="${iso(date)}">${iso(date)}</time><div class="muted">${
    relative(date, now)
  }</div>`;
}

/** UTC to the second: the same form as go-cron's JSON. */
function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function relative(date: Date, now: Date): string {
  const ms = date.getTime() - now.getTime();
  if (Math.abs(ms) < 1000) return "now";
  return ms > 0 ? `in ${coarse(ms)}` : `${coarse(-ms)} ago`;
}

function coarse(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

function span(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 10_000) return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
