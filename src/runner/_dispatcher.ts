import type { Logger } from "../log/mod.ts";
import { type Clock, systemClock } from "./_clock.ts";
import { runJob, StopRequest } from "./_run.ts";
import type { RunStore } from "./_store.ts";
import type { Job, PreparedStart, RunRecord, RunTrigger } from "./_types.ts";

/** What to do when a job is due while its previous run is still going. */
export type OverlapPolicy = "skip" | "allow" | "replace";

/** A job with the run policy the dispatcher applies to it. */
export interface JobSpec {
  job: Job;
  overlap: OverlapPolicy;
  /** Jobs sharing a group never run at the same time; later ones wait their turn. */
  group?: string;
  timeoutMs?: number;
  killGraceMs?: number;
  retries?: number;
  retryBackoffMs?: number;
  outputLimit?: number;
}

/** Options of one trigger. */
export interface TriggerOptions {
  trigger: RunTrigger;
  scheduledAt?: Date;
}

/** What a trigger did. */
export type TriggerResult = "started" | "skipped" | "queued" | "replaced";

interface ActiveRun {
  spec: JobSpec;
  controller: AbortController;
  done: Promise<RunRecord>;
}

/** Options of {@linkcode Dispatcher}. */
export interface DispatcherOptions {
  log: Logger;
  clock?: Clock;
}

/** Starts runs under the overlap and group rules, and stops them all on shutdown. */
export class Dispatcher {
  readonly #store: RunStore;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #active = new Set<ActiveRun>();
  readonly #queued: { spec: JobSpec; options: TriggerOptions }[] = [];
  /** Starts made ready by {@linkcode prepare}, by job name, with the job they belong to. */
  readonly #prepared = new Map<string, { job: Job; start: PreparedStart }>();
  #closing = false;

  /** Records every run in `store`. */
  constructor(store: RunStore, options: DispatcherOptions) {
    this.#store = store;
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Makes the start of a run of `spec` due in a moment ready ahead of time, when the job can and
   * the run would start at once (nothing in its way now); the next {@linkcode trigger} of the
   * job uses it or discards it.
   */
  prepare(spec: JobSpec): void {
    const name = spec.job.name;
    if (!spec.job.prepare || this.#closing || this.#prepared.has(name)) return;
    if (spec.overlap !== "allow" && this.isRunning(name)) return;
    if (spec.group !== undefined && this.#groupBusy(spec.group)) return;
    const start = spec.job.prepare();
    if (start) this.#prepared.set(name, { job: spec.job, start });
  }

  /** Discards the prepared start of `job`, or of every job, when no trigger will come for it. */
  discardPrepared(job?: string): void {
    for (const [name, { start }] of this.#prepared) {
      if (job !== undefined && name !== job) continue;
      start.discard();
      this.#prepared.delete(name);
    }
  }

  /** Starts a run of `spec` now, unless its overlap or group rule says otherwise. */
  trigger(spec: JobSpec, options: TriggerOptions): TriggerResult {
    const name = spec.job.name;
    const log = this.#log.with({ job: name });
    const held = this.#prepared.get(name);
    this.#prepared.delete(name);
    // Made for this very job (not one a reload replaced), and used only by a run started now.
    const prepared = held?.job === spec.job ? held.start : undefined;
    if (held && !prepared) held.start.discard();
    const result = this.#decide(spec, options, log, prepared);
    if (result !== "started") prepared?.discard();
    return result;
  }

  #decide(
    spec: JobSpec,
    options: TriggerOptions,
    log: Logger,
    prepared: PreparedStart | undefined,
  ): TriggerResult {
    const name = spec.job.name;
    if (this.#closing) {
      log.info("Not starting: shutting down");
      return "skipped";
    }
    const own = [...this.#active].filter((run) => run.spec.job.name === name);
    if (own.length > 0) {
      if (spec.overlap === "skip") {
        const reason = "previous run still running (overlap: skip)";
        log.warn(`Skipping this run: ${reason}`, { scheduled: options.scheduledAt });
        this.#store.skip(name, reason, this.#clock.now());
        return "skipped";
      }
      if (spec.overlap === "replace") {
        log.warn("Stopping the previous run to start a new one (overlap: replace)");
        for (const run of own) run.controller.abort();
        Promise.allSettled(own.map((run) => run.done)).then(() => this.#start(spec, options));
        return "replaced";
      }
    }
    if (spec.group !== undefined && this.#groupBusy(spec.group)) {
      if (this.#queued.some((item) => item.spec.job.name === name)) {
        const reason = `a run is already waiting for group "${spec.group}"`;
        log.warn(`Skipping this run: ${reason}`);
        this.#store.skip(name, reason, this.#clock.now());
        return "skipped";
      }
      log.info(`Waiting: another job of group "${spec.group}" is running`);
      this.#queued.push({ spec, options });
      return "queued";
    }
    this.#start(spec, options, prepared);
    return "started";
  }

  /** True while a run of `job` is in progress. */
  isRunning(job: string): boolean {
    return [...this.#active].some((run) => run.spec.job.name === job);
  }

  /** Resolves when no run is active or waiting. */
  async idle(): Promise<void> {
    while (this.#active.size > 0) {
      await Promise.allSettled([...this.#active].map((run) => run.done));
    }
  }

  /**
   * Stops starting runs, asks running jobs to stop (SIGTERM), and after `graceMs` kills what
   * is left; resolves when all have ended.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.#closing = true;
    this.#queued.length = 0;
    this.discardPrepared();
    if (this.#active.size === 0) return;
    this.#log.info("Stopping running jobs", {
      jobs: [...this.#active].map((run) => run.spec.job.name),
      grace_ms: graceMs,
    });
    for (const run of this.#active) run.controller.abort(new StopRequest(graceMs));
    await this.idle();
  }

  #groupBusy(group: string): boolean {
    return [...this.#active].some((run) => run.spec.group === group);
  }

  #start(spec: JobSpec, options: TriggerOptions, prepared?: PreparedStart): void {
    if (this.#closing) return;
    const controller = new AbortController();
    const done = runJob(spec.job, {
      ...(prepared ? { prepared } : {}),
      log: this.#log,
      clock: this.#clock,
      trigger: options.trigger,
      signal: controller.signal,
      onUpdate: (record) => this.#store.update(record),
      ...(options.scheduledAt ? { scheduledAt: options.scheduledAt } : {}),
      ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
      ...(spec.killGraceMs !== undefined ? { killGraceMs: spec.killGraceMs } : {}),
      ...(spec.retries !== undefined ? { retries: spec.retries } : {}),
      ...(spec.retryBackoffMs !== undefined ? { retryBackoffMs: spec.retryBackoffMs } : {}),
      ...(spec.outputLimit !== undefined ? { outputLimit: spec.outputLimit } : {}),
    });
    const run: ActiveRun = { spec, controller, done };
    this.#active.add(run);
    done.then((record) => {
      this.#active.delete(run);
      this.#store.finish(record);
      const log = this.#log.with({ job: record.job, run: record.id });
      const seconds = ((record.endedAt?.getTime() ?? 0) - record.startedAt.getTime()) / 1000;
      if (record.result === "success") {
        log.info("Run succeeded", { duration_s: seconds });
      } else {
        log.error(`Run failed: ${record.error ?? record.result}`, {
          exit_status: record.exitStatus,
          duration_s: seconds,
        });
      }
      this.#startQueued();
    });
  }

  #startQueued(): void {
    for (let i = 0; i < this.#queued.length; i++) {
      const item = this.#queued[i]!;
      if (item.spec.group !== undefined && this.#groupBusy(item.spec.group)) continue;
      this.#queued.splice(i, 1);
      i--;
      this.#start(item.spec, item.options);
    }
  }
}
