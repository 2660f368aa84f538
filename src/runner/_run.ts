import type { Logger } from "../log/mod.ts";
import { type Clock, sleep, systemClock } from "./_clock.ts";
import { BoundedOutput, LineSplitter } from "./_output.ts";
import type { Job, JobOutcome, PreparedStart, RunRecord, RunTrigger } from "./_types.ts";

/** Options of {@linkcode runJob}. */
export interface RunJobOptions {
  log: Logger;
  trigger?: RunTrigger;
  scheduledAt?: Date;
  /** Aborting it cancels the run (SIGTERM, then SIGKILL after `killGraceMs`). */
  signal?: AbortSignal;
  /** Fails the run as a timeout after this many ms (all attempts together). */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** Extra attempts after a failure (not after a timeout or cancel). */
  retries?: number;
  /** First wait between attempts; doubles each time, capped at 10 minutes. */
  retryBackoffMs?: number;
  /** Characters kept at each end of stdout and stderr. */
  outputLimit?: number;
  clock?: Clock;
  /** Called when the record changes (start, pid, progress). */
  onUpdate?: (record: RunRecord) => void;
  /** The job's prepared start, for the first attempt; discarded at the end if unused. */
  prepared?: PreparedStart;
}

const MAX_BACKOFF_MS = 600_000;

/** An abort reason that sets the grace period between SIGTERM and SIGKILL (shutdown). */
export class StopRequest extends Error {
  /** `graceMs` replaces the job's own kill grace for this stop. */
  constructor(readonly graceMs: number) {
    super("Stopping");
    this.name = "StopRequest";
  }
}
let sequence = 0;

/** Runs `job` to the end with timeout, retries and output capture, and returns its record. */
export async function runJob(job: Job, options: RunJobOptions): Promise<RunRecord> {
  const clock = options.clock ?? systemClock;
  const record: RunRecord = {
    job: job.name,
    id: `${clock.now().getTime().toString(36)}-${(++sequence).toString(36)}`,
    trigger: options.trigger ?? "manual",
    startedAt: clock.now(),
    attempts: 0,
    stdout: "",
    stderr: "",
    artifacts: [],
  };
  if (options.scheduledAt) record.scheduledAt = options.scheduledAt;
  const log = options.log.with({ job: job.name, run: record.id });
  const limit = options.outputLimit ?? 65_536;
  const stdout = new BoundedOutput(limit);
  const stderr = new BoundedOutput(limit);
  const outLines = new LineSplitter((line) => log.info(line, { stream: "stdout" }));
  const errLines = new LineSplitter((line) => log.info(line, { stream: "stderr" }));
  let announced = false;
  const update = () => {
    announced = true;
    options.onUpdate?.(record);
  };

  const stop = new AbortController();
  const kill = new AbortController();
  const killGrace = options.killGraceMs ?? 10_000;
  let stopReason: "timeout" | "cancelled" | undefined;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  function requestStop(reason: "timeout" | "cancelled", graceMs: number): void {
    if (stop.signal.aborted) return;
    stopReason = reason;
    stop.abort(new DOMException(`Run ${reason}`, "AbortError"));
    killTimer = setTimeout(() => kill.abort(), graceMs);
  }
  const timeoutTimer = options.timeoutMs !== undefined
    ? setTimeout(() => {
      log.warn("Run timed out, stopping it", { timeout_ms: options.timeoutMs });
      requestStop("timeout", killGrace);
    }, options.timeoutMs)
    : undefined;
  const onCancel = () => {
    const reason = options.signal?.reason;
    requestStop("cancelled", reason instanceof StopRequest ? reason.graceMs : killGrace);
  };
  options.signal?.addEventListener("abort", onCancel, { once: true });
  if (options.signal?.aborted) onCancel();

  let outcome: JobOutcome = { exitStatus: 1, error: "not run" };
  const retries = options.retries ?? 0;
  try {
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      record.attempts = attempt;
      if (attempt > 1) {
        const wait = Math.min(
          (options.retryBackoffMs ?? 1000) * 2 ** (attempt - 2),
          MAX_BACKOFF_MS,
        );
        log.warn("Retrying after failure", { attempt, of: retries + 1, wait_ms: wait });
        const note = `\n[snapcron: attempt ${attempt} of ${retries + 1}]\n`;
        stdout.append(note);
        stderr.append(note);
        try {
          await sleep(clock, wait, stop.signal);
        } catch {
          break;
        }
      }
      const running = attemptOnce(job, {
        runId: record.id,
        startedAt: record.startedAt,
        signal: stop.signal,
        killSignal: kill.signal,
        log,
        stdout: (text) => {
          stdout.append(text);
          outLines.push(text);
        },
        stderr: (text) => {
          stderr.append(text);
          errLines.push(text);
        },
        setPid: (pid) => {
          // The last pid stays on the record: go-cron's status shows it after the run.
          if (pid === undefined) return;
          record.pid = pid;
          update();
        },
        progress: (progress) => {
          record.progress = { ...record.progress, ...progress };
          update();
        },
        ...(attempt === 1 && options.prepared ? { prepared: options.prepared } : {}),
      });
      // The store hears of the run once the job has begun (a command's process is started
      // before `attemptOnce` first awaits, and its pid announces the run), so that status,
      // metrics and pings listening to it never delay a start.
      if (!announced) update();
      outcome = await running;
      outLines.flush();
      errLines.flush();
      if (outcome.exitStatus === 0 || stop.signal.aborted) break;
    }
  } finally {
    clearTimeout(timeoutTimer);
    clearTimeout(killTimer);
    options.signal?.removeEventListener("abort", onCancel);
    options.prepared?.discard();
  }

  record.endedAt = clock.now();
  record.stdout = stdout.toString();
  record.stderr = stderr.toString();
  if (outcome.artifacts) record.artifacts = outcome.artifacts;
  if (outcome.deletions) record.deletions = outcome.deletions;
  record.exitStatus = outcome.exitStatus;
  if (outcome.exitStatus === 0) {
    record.result = "success";
  } else if (stopReason === "timeout") {
    record.result = "timeout";
    record.exitStatus = 124;
    record.error = `Timed out after ${formatMs(options.timeoutMs ?? 0)}` +
      (outcome.error ? `: ${outcome.error}` : "");
  } else {
    record.result = stopReason ?? "failure";
    record.error = outcome.error ??
      (stopReason ? "Cancelled" : `Exit status ${outcome.exitStatus}`);
  }
  return record;
}

async function attemptOnce(job: Job, ctx: Parameters<Job["run"]>[0]): Promise<JobOutcome> {
  try {
    return await job.run(ctx);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    ctx.log.error("Job failed", { error: message });
    ctx.stderr(message + "\n");
    return { exitStatus: 1, error: message };
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
