import type { StoredJob } from "./_state_file.ts";
import type { RunRecord, RunResult } from "./_types.ts";

/** What happened to a job, as seen by status, metrics and notifiers. */
export type RunEvent =
  | { type: "start"; record: RunRecord }
  | { type: "update"; record: RunRecord }
  | { type: "finish"; record: RunRecord }
  | { type: "skip"; job: string; reason: string; at: Date };

/** Per-job counters and history. */
export interface JobHistory {
  readonly name: string;
  /** Runs in progress, oldest first. */
  readonly running: readonly RunRecord[];
  /** Finished runs, newest first, at most the history size. */
  readonly history: readonly RunRecord[];
  /** Runs due but not started (overlap, missed deadline) since the process started. */
  readonly skipped: number;
  readonly lastSuccess?: RunRecord;
  readonly lastFailure?: RunRecord;
  /** Totals since the process started, for counters in metrics. */
  readonly totals: RunTotals;
}

/** Monotonic per-job counters. */
export interface RunTotals {
  /** Finished runs by result. */
  runs: Record<RunResult, number>;
  /** Seconds spent in finished runs. */
  durationSeconds: number;
  /** Bytes of artifacts of successful runs (backup sizes). */
  bytes: number;
  /** Backups or snapshots deleted by retention. */
  deletions: number;
}

interface JobEntry {
  running: Map<string, RunRecord>;
  history: RunRecord[];
  skipped: number;
  lastSuccess?: RunRecord;
  lastFailure?: RunRecord;
  totals: RunTotals;
}

/** Options of {@linkcode RunStore}. */
export interface RunStoreOptions {
  /** Finished runs kept per job. */
  historySize?: number;
  /** Masks secrets in output and errors before anything can read them. */
  redact?: (text: string) => string;
}

/** Holds the run records of every job; the one place status and metrics read from. */
export class RunStore {
  readonly #jobs = new Map<string, JobEntry>();
  readonly #listeners = new Set<(event: RunEvent) => void>();
  readonly #historySize: number;
  #revision = 0;
  readonly #redact: ((text: string) => string) | undefined;

  /** Creates an empty store. */
  constructor(options: RunStoreOptions = {}) {
    this.#historySize = options.historySize ?? 20;
    this.#redact = options.redact;
  }

  /** A copy of `record` with secrets masked: what every reader of the store sees. */
  #clean(record: RunRecord): RunRecord {
    const redact = this.#redact;
    if (!redact) return record;
    const clean = { ...record, stdout: redact(record.stdout), stderr: redact(record.stderr) };
    if (record.error !== undefined) clean.error = redact(record.error);
    return clean;
  }

  #entry(job: string): JobEntry {
    let entry = this.#jobs.get(job);
    if (!entry) {
      entry = {
        running: new Map(),
        history: [],
        skipped: 0,
        totals: {
          runs: { success: 0, failure: 0, timeout: 0, cancelled: 0 },
          durationSeconds: 0,
          bytes: 0,
          deletions: 0,
        },
      };
      this.#jobs.set(job, entry);
    }
    return entry;
  }

  /** Makes a job known before its first run (so status lists it as never run). */
  declare(job: string): void {
    this.#entry(job);
  }

  /** Forgets jobs not in `names` (after a reload removed them). */
  retain(names: readonly string[]): void {
    for (const name of [...this.#jobs.keys()]) {
      if (!names.includes(name) && this.#jobs.get(name)?.running.size === 0) {
        this.#jobs.delete(name);
      }
    }
  }

  /** Records the start of, or a change to, a run. */
  update(dirty: RunRecord): void {
    const record = this.#clean(dirty);
    const entry = this.#entry(record.job);
    const known = entry.running.has(record.id);
    entry.running.set(record.id, record);
    this.#emit({ type: known ? "update" : "start", record });
  }

  /** Records the end of a run. */
  finish(dirty: RunRecord): void {
    const record = this.#clean(dirty);
    const entry = this.#entry(record.job);
    entry.running.delete(record.id);
    entry.history.unshift(record);
    entry.history.length = Math.min(entry.history.length, this.#historySize);
    if (record.result === "success") entry.lastSuccess = record;
    else entry.lastFailure = record;
    const totals = entry.totals;
    totals.runs[record.result ?? "failure"]++;
    if (record.endedAt) {
      totals.durationSeconds += (record.endedAt.getTime() - record.startedAt.getTime()) / 1000;
    }
    if (record.result === "success") {
      for (const artifact of record.artifacts) totals.bytes += artifact.size ?? 0;
    }
    totals.deletions += record.deletions ?? 0;
    this.#emit({ type: "finish", record });
  }

  /** Records a run that was due but did not start (overlap, missed deadline). */
  skip(job: string, reason: string, at: Date): void {
    this.#entry(job).skipped++;
    this.#emit({ type: "skip", job, reason, at });
  }

  /** The finished runs of every job, for the state file. */
  export(): Record<string, StoredJob> {
    const out: Record<string, StoredJob> = {};
    for (const [name, entry] of this.#jobs) {
      out[name] = {
        history: entry.history,
        ...(entry.lastSuccess ? { lastSuccess: entry.lastSuccess } : {}),
        ...(entry.lastFailure ? { lastFailure: entry.lastFailure } : {}),
      };
    }
    return out;
  }

  /** Loads finished runs saved by {@linkcode export} (after a restart). */
  restore(jobs: Record<string, StoredJob>): void {
    for (const [name, stored] of Object.entries(jobs)) {
      const entry = this.#entry(name);
      entry.history = [...stored.history, ...entry.history].slice(0, this.#historySize);
      if (stored.lastSuccess && !entry.lastSuccess) entry.lastSuccess = stored.lastSuccess;
      if (stored.lastFailure && !entry.lastFailure) entry.lastFailure = stored.lastFailure;
    }
  }

  /** The names of all known jobs, in the order they became known. */
  names(): string[] {
    return [...this.#jobs.keys()];
  }

  /** The state of one job, or undefined when unknown. */
  get(job: string): JobHistory | undefined {
    const entry = this.#jobs.get(job);
    if (!entry) return undefined;
    return {
      name: job,
      running: [...entry.running.values()],
      history: [...entry.history],
      skipped: entry.skipped,
      totals: { ...entry.totals, runs: { ...entry.totals.runs } },
      ...(entry.lastSuccess ? { lastSuccess: entry.lastSuccess } : {}),
      ...(entry.lastFailure ? { lastFailure: entry.lastFailure } : {}),
    };
  }

  /** Subscribes to run events; returns the unsubscribe function. */
  subscribe(listener: (event: RunEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Grows with every change, so readers can tell whether what they rendered is still current. */
  get revision(): number {
    return this.#revision;
  }

  #emit(event: RunEvent): void {
    this.#revision++;
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A broken listener must not break the run.
      }
    }
  }
}
