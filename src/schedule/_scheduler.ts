import type { Logger } from "../log/mod.ts";
import type { Clock, RunTrigger } from "../runner/mod.ts";
import type { NextRun, Schedule } from "./mod.ts";

/** What the scheduler needs to know of a job. */
export interface ScheduledJob {
  name: string;
  schedule: Schedule;
  /** Each slot is delayed by a stable pseudo-random offset below this, spreading load. */
  jitterMs?: number;
  runOnStart?: boolean;
  /** A run more than this late is skipped; unset means a late run always starts, once. */
  startingDeadlineMs?: number;
}

/** A slot that came due. */
export interface DueRun {
  scheduledAt: Date;
  trigger: RunTrigger;
}

/** Options of {@linkcode Scheduler}. */
export interface SchedulerOptions {
  clock: Clock;
  log: Logger;
  /** Called when a slot is due; it must not block (the dispatcher starts the run). */
  onDue: (job: ScheduledJob, run: DueRun) => void;
  /** Called when a due slot is not run (missed its starting deadline). */
  onSkip?: (job: ScheduledJob, reason: string) => void;
  /**
   * Called {@linkcode PREPARE_MS} before a slot is due (or at once, when woken later than that),
   * so that the start can be made ready; `onDue` follows on the moment.
   */
  onPrepare?: (job: ScheduledJob) => void;
}

/**
 * How long before a slot `onPrepare` is called: time for a command's process (coreutils'
 * timeout(1) and a shell waiting to exec the command) to be made and waiting when the slot
 * comes, also on a busy machine (3–5 ms idle; docs/benchmarks.md, schedule).
 */
export const PREPARE_MS = 100;

/** Lateness above which a start is logged as late. */
const LATE_MS = 1000;
/** Upper bound when counting slots missed during a suspend, so `* * * * * *` stays cheap. */
const MAX_MISSED_COUNT = 100_000;

/**
 * Sleeps until each job's next slot and hands it to `onDue`. After a clock jump or suspend, the
 * missed slots collapse into at most one late run (skipped when past the starting deadline), and
 * a slot already handled never fires again, even when the clock goes back.
 */
export class Scheduler {
  readonly #jobs: readonly ScheduledJob[];
  readonly #options: SchedulerOptions;
  readonly #next = new Map<string, Date>();
  readonly #controller = new AbortController();
  #loops: Promise<void>[] = [];
  #started = false;

  /** Schedules `jobs`; nothing runs before {@linkcode start}. */
  constructor(jobs: readonly ScheduledJob[], options: SchedulerOptions) {
    this.#jobs = jobs;
    this.#options = options;
  }

  /** Starts one loop per job. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#loops = this.#jobs.map((job) => this.#loop(job));
  }

  /** The next planned start of `job` (jitter included), if any. */
  next(job: string): Date | undefined {
    return this.#next.get(job);
  }

  /** Stops all loops; safe to call twice. Running jobs are not touched. */
  async close(): Promise<void> {
    this.#controller.abort();
    await Promise.allSettled(this.#loops);
  }

  async #loop(job: ScheduledJob): Promise<void> {
    const { clock, log: baseLog, onDue, onSkip, onPrepare } = this.#options;
    const log = baseLog.with({ job: job.name });
    const signal = this.#controller.signal;
    const dueOf = (slot: NextRun) => slot.at.getTime() + jitterFor(job, slot.at);
    const start = clock.now();
    if (job.runOnStart) onDue(job, { scheduledAt: start, trigger: "start" });
    let first = job.schedule.next(start);
    try {
      for (;;) {
        if (!first) {
          log.warn(`Schedule "${job.schedule}" has no further run times; job will not run again`);
          this.#next.delete(job.name);
          return;
        }
        const due = dueOf(first);
        this.#next.set(job.name, new Date(due));
        // Worked out before sleeping, so that nothing but a comparison stands between the wake-up
        // and the start (bookkeeping and logging come after onDue).
        let later = job.schedule.next(first.at);
        if (onPrepare) {
          await clock.sleepUntil(new Date(due - PREPARE_MS), signal);
          onPrepare(job);
        }
        await clock.sleepUntil(new Date(due), signal, { exact: true });

        const now = clock.now().getTime();
        let slot = first;
        let missed = 0;
        while (later && dueOf(later) <= now && missed < MAX_MISSED_COUNT) {
          slot = later;
          missed++;
          later = job.schedule.next(slot.at);
        }
        const lateness = now - dueOf(slot);
        const missedFrom = first.at;
        first = later;
        if (job.startingDeadlineMs !== undefined && lateness > job.startingDeadlineMs) {
          this.#noteMissed(log, slot, missed, missedFrom);
          const reason = `started ${Math.round(lateness / 1000)}s late, past starting_deadline`;
          log.warn(`Skipping run of ${slot.at.toISOString()}: ${reason}`);
          onSkip?.(job, reason);
          continue;
        }
        onDue(job, {
          scheduledAt: slot.at,
          trigger: missed > 0 || lateness > LATE_MS ? "late" : "schedule",
        });
        this.#noteMissed(log, slot, missed, missedFrom);
        if (lateness > LATE_MS) {
          log.warn("Starting late", { scheduled: slot.at, late_ms: lateness });
        }
      }
    } catch (error) {
      if (!signal.aborted) {
        log.error("Scheduler loop failed", { error });
        throw error;
      }
    }
  }

  /** Logs what the slot about to run (or be skipped) says, and the slots it stands in for. */
  #noteMissed(log: Logger, slot: NextRun, missed: number, firstMissed: Date): void {
    if (slot.note) log.warn(slot.note);
    if (missed === 0) return;
    log.warn(
      `Missed ${missed} earlier run time${missed === 1 ? "" : "s"} (clock jump or suspend); ` +
        "running the latest once",
      { first_missed: firstMissed, latest: slot.at },
    );
  }
}

/** A stable offset in `[0, jitterMs)` for one job and slot, so restarts keep the same times. */
export function jitterFor(job: Pick<ScheduledJob, "name" | "jitterMs">, slot: Date): number {
  if (!job.jitterMs) return 0;
  let hash = 0x811c9dc5;
  const text = `${job.name}@${slot.getTime()}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % job.jitterMs;
}
