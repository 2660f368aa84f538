import type { JobHistory, RunResult } from "../runner/mod.ts";

/** Where the exposition reads jobs and runs from; a status source fits as is. */
export interface MetricsSource {
  jobs(): { name: string; next?: Date }[];
  history(job: string): JobHistory | undefined;
}

/** Options of {@linkcode renderPrometheus}. */
export interface PrometheusOptions {
  /** Scrape time; accepted for symmetry with the status handler, no family depends on it yet. */
  now?: () => Date;
  /** Value of the `version` label of `snapcron_build_info`. */
  version?: string;
}

/** The `Content-Type` of the text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const RESULTS: readonly RunResult[] = ["success", "failure", "timeout", "cancelled"];

type Labels = Record<string, string>;

interface Family {
  name: string;
  type: "counter" | "gauge";
  help: string;
  samples: { labels: Labels; value: number }[];
}

function family(name: string, type: Family["type"], help: string): Family {
  return { name, type, help, samples: [] };
}

/** Seconds since the epoch, as Prometheus timestamps are. */
function unixSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatSample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([key, v]) => `${key}="${escapeLabel(v)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${formatValue(value)}\n`;
}

/**
 * Renders every job's counters and last-run gauges in the Prometheus text format 0.0.4.
 * Labels are the job name (plus `result` on the runs counter), never the command line, so
 * the series count stays bounded by the config.
 */
export function renderPrometheus(source: MetricsSource, options: PrometheusOptions = {}): string {
  const runs = family("snapcron_runs_total", "counter", "Finished runs by result.");
  const durationTotal = family(
    "snapcron_run_duration_seconds_total",
    "counter",
    "Seconds spent in finished runs.",
  );
  const lastDuration = family(
    "snapcron_last_run_duration_seconds",
    "gauge",
    "Duration of the last finished run.",
  );
  const lastOk = family(
    "snapcron_last_run_success",
    "gauge",
    "1 when the last finished run succeeded, 0 when it did not.",
  );
  const lastSuccess = family(
    "snapcron_last_success_timestamp_seconds",
    "gauge",
    "Unix time the last successful run ended.",
  );
  const lastFailure = family(
    "snapcron_last_failure_timestamp_seconds",
    "gauge",
    "Unix time the last failed, timed out or cancelled run ended.",
  );
  const nextRun = family(
    "snapcron_next_run_timestamp_seconds",
    "gauge",
    "Unix time of the next scheduled run.",
  );
  const running = family("snapcron_running", "gauge", "Runs in progress.");
  const bytes = family(
    "snapcron_backup_bytes_total",
    "counter",
    "Bytes of artifacts written by successful runs.",
  );
  const deletions = family(
    "snapcron_retention_deletions_total",
    "counter",
    "Backups or snapshots deleted by retention.",
  );
  const skipped = family(
    "snapcron_skipped_runs_total",
    "counter",
    "Runs that were due but did not start (overlap, missed deadline).",
  );
  const buildInfo = family(
    "snapcron_build_info",
    "gauge",
    "Always 1; the version label names the running snapcron.",
  );

  const seen = new Set<string>();
  for (const job of source.jobs()) {
    // A duplicate series would make the whole scrape invalid.
    if (seen.has(job.name)) continue;
    seen.add(job.name);
    const labels = { job: job.name };
    const history = source.history(job.name);
    const totals = history?.totals;
    for (const result of RESULTS) {
      runs.samples.push({ labels: { ...labels, result }, value: totals?.runs[result] ?? 0 });
    }
    durationTotal.samples.push({ labels, value: totals?.durationSeconds ?? 0 });
    const last = history?.history[0];
    if (last?.endedAt) {
      const seconds = (last.endedAt.getTime() - last.startedAt.getTime()) / 1000;
      lastDuration.samples.push({ labels, value: seconds });
    }
    if (last) lastOk.samples.push({ labels, value: last.result === "success" ? 1 : 0 });
    const successAt = history?.lastSuccess?.endedAt ?? history?.lastSuccess?.startedAt;
    if (successAt) lastSuccess.samples.push({ labels, value: unixSeconds(successAt) });
    const failureAt = history?.lastFailure?.endedAt ?? history?.lastFailure?.startedAt;
    if (failureAt) lastFailure.samples.push({ labels, value: unixSeconds(failureAt) });
    if (job.next) nextRun.samples.push({ labels, value: unixSeconds(job.next) });
    running.samples.push({ labels, value: history?.running.length ?? 0 });
    bytes.samples.push({ labels, value: totals?.bytes ?? 0 });
    deletions.samples.push({ labels, value: totals?.deletions ?? 0 });
    skipped.samples.push({ labels, value: history?.skipped ?? 0 });
  }
  buildInfo.samples.push({ labels: { version: options.version ?? "unknown" }, value: 1 });

  const families = [
    runs,
    durationTotal,
    lastDuration,
    lastOk,
    lastSuccess,
    lastFailure,
    nextRun,
    running,
    bytes,
    deletions,
    skipped,
    buildInfo,
  ];
  let out = "";
  for (const { name, type, help, samples } of families) {
    // A family with no samples still gets its HELP and TYPE, so dashboards see it exists.
    out += `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
    for (const sample of samples) out += formatSample(name, sample.labels, sample.value);
  }
  return out;
}
