import type { Logger } from "../log/mod.ts";

/** How a run ended. */
export type RunResult = "success" | "failure" | "timeout" | "cancelled";

/** Why a run started. */
export type RunTrigger = "schedule" | "start" | "manual" | "once" | "late";

/** Progress a job reports while it runs (bytes, shards, percent when known). */
export interface Progress {
  bytes?: number;
  totalBytes?: number;
  done?: number;
  total?: number;
  percent?: number;
  message?: string;
}

/** What a backup left behind and what proves it. */
export interface Artifact {
  kind: string;
  name: string;
  size?: number;
  sha256?: string;
  state?: string;
  location?: string;
}

/** One run of one job, from start to end, read by status, metrics and notifiers. */
export interface RunRecord {
  job: string;
  id: string;
  trigger: RunTrigger;
  scheduledAt?: Date;
  startedAt: Date;
  endedAt?: Date;
  result?: RunResult;
  /** Process-style exit status: 0 success, the command's code, 124 timeout, 128+n signal. */
  exitStatus?: number;
  attempts: number;
  stdout: string;
  stderr: string;
  pid?: number;
  progress?: Progress;
  error?: string;
  artifacts: Artifact[];
  /** Old backups or snapshots that retention deleted during this run. */
  deletions?: number;
}

/** What a job hands back when it ends without throwing. */
export interface JobOutcome {
  exitStatus: number;
  error?: string;
  artifacts?: Artifact[];
  deletions?: number;
}

/** Everything a job may touch while it runs. */
export interface JobContext {
  /** The run's id, for object keys and logs. */
  runId: string;
  /** When the run started. */
  startedAt: Date;
  /** Aborted on timeout, cancel or shutdown: stop gracefully (SIGTERM). */
  signal: AbortSignal;
  /** Aborted after the grace period that follows `signal`: stop now (SIGKILL). */
  killSignal: AbortSignal;
  log: Logger;
  stdout(text: string): void;
  stderr(text: string): void;
  setPid(pid: number | undefined): void;
  progress(update: Progress): void;
  /** What the job's {@linkcode Job.prepare} made ready for this run, on its first attempt. */
  prepared?: PreparedStart;
}

/**
 * A start made ready shortly before a run is due (a command's process, waiting for the go), so
 * that the run starts on the moment. The run it is handed to uses it; whoever holds it when no
 * run will, discards it. Discarding one already used does nothing.
 */
export interface PreparedStart {
  discard(): void;
}

/** A unit of work the runner can run. */
export interface Job {
  readonly name: string;
  readonly kind: string;
  run(ctx: JobContext): Promise<JobOutcome>;
  /** Makes the next run's start ready ahead of time, when the job can (see PreparedStart). */
  prepare?(): PreparedStart | undefined;
}
