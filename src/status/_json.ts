import type { JobHistory, RunRecord } from "../runner/mod.ts";

/** What the status server needs to know of a configured job. */
export interface StatusJob {
  name: string;
  kind: string;
  schedule: string;
  timezone: string;
  /** How the schedule was read, e.g. "6 fields, seconds first". */
  reading?: string;
  next?: Date;
  /** The job is stale when no run succeeded within this many ms. */
  staleAfterMs?: number;
  /** When the job was first scheduled: the staleness clock of a job that never succeeded. */
  since?: Date;
  /** Paused through `POST /jobs/NAME/pause`: due runs are skipped. */
  paused?: boolean;
}

/** One run in go-cron's shape: these keys are a compatibility contract. */
export interface GoCronRun {
  Exit_status: number;
  Stdout: string;
  Stderr: string;
  ExitTime: string;
  Pid: number;
  StartingTime: string;
}

/** A job's health as monitors see it; `failed` and `stale` answer 503. */
export type JobState = "never_run" | "running" | "ok" | "failed" | "stale";

/** go-cron's timestamps are RFC 3339 to the second. */
function rfc3339(date: Date | undefined): string {
  return date ? date.toISOString().replace(/\.\d{3}Z$/, "Z") : "";
}

/** One run record in go-cron's shape; an absent record gives go-cron's empty run. */
export function goCronRun(record: RunRecord | undefined): GoCronRun {
  return {
    Exit_status: record?.exitStatus ?? 0,
    Stdout: record?.stdout ?? "",
    Stderr: record?.stderr ?? "",
    ExitTime: rfc3339(record?.endedAt),
    Pid: record?.pid ?? 0,
    StartingTime: rfc3339(record?.startedAt),
  };
}

/** go-cron keys running processes by pid. */
export function goCronRunning(records: readonly RunRecord[]): Record<string, GoCronRun> {
  const out: Record<string, GoCronRun> = {};
  for (const record of records) out[String(record.pid ?? record.id)] = goCronRun(record);
  return out;
}

/**
 * The job's state: failed when its last finished run failed; stale when `job.staleAfterMs` has
 * passed since its last success (or since it was scheduled, when it never succeeded).
 */
export function jobState(
  history: JobHistory | undefined,
  job: Pick<StatusJob, "staleAfterMs" | "since"> = {},
  now: Date = new Date(),
): JobState {
  const last = history?.history[0];
  if (last && last.result !== "success") return "failed";
  if (job.staleAfterMs !== undefined) {
    const reference = history?.lastSuccess?.endedAt ?? job.since;
    if (reference && now.getTime() - reference.getTime() > job.staleAfterMs) return "stale";
  }
  if (last) return "ok";
  return history && history.running.length > 0 ? "running" : "never_run";
}

/** True when the state makes status answer 503. */
export function unhealthy(state: JobState): boolean {
  return state === "failed" || state === "stale";
}

/** A run in snapcron's own detailed shape. */
export function runDetail(record: RunRecord): Record<string, unknown> {
  const ended = record.endedAt?.getTime();
  return {
    id: record.id,
    trigger: record.trigger,
    scheduled_at: record.scheduledAt?.toISOString() ?? null,
    started_at: record.startedAt.toISOString(),
    ended_at: record.endedAt?.toISOString() ?? null,
    duration_seconds: ended !== undefined ? (ended - record.startedAt.getTime()) / 1000 : null,
    result: record.result ?? "running",
    exit_status: record.exitStatus ?? null,
    attempts: record.attempts,
    pid: record.pid ?? null,
    error: record.error ?? null,
    progress: record.progress ?? null,
    artifacts: record.artifacts,
  };
}

/** One job in go-cron's shape plus snapcron's detail. */
export function jobJson(
  job: StatusJob,
  history: JobHistory | undefined,
  now: Date,
): Record<string, unknown> {
  const running = history?.running ?? [];
  return {
    Running: goCronRunning(running),
    Last: goCronRun(history?.history[0]),
    Schedule: job.schedule,
    name: job.name,
    kind: job.kind,
    timezone: job.timezone,
    ...(job.reading ? { schedule_reading: job.reading } : {}),
    state: jobState(history, job, now),
    ...(job.staleAfterMs !== undefined
      ? { alert_if_no_success_within_seconds: job.staleAfterMs / 1000 }
      : {}),
    next_run: job.next?.toISOString() ?? null,
    paused: job.paused ?? false,
    last_success: history?.lastSuccess?.endedAt?.toISOString() ?? null,
    last_failure: history?.lastFailure?.endedAt?.toISOString() ?? null,
    skipped_runs: history?.skipped ?? 0,
    running: running.map((record) => ({
      ...runDetail(record),
      elapsed_seconds: (now.getTime() - record.startedAt.getTime()) / 1000,
    })),
    history: (history?.history ?? []).map(runDetail),
  };
}
