import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  type Clock,
  Dispatcher,
  type JobSpec,
  persistStore,
  RunStore,
  systemClock,
} from "../runner/mod.ts";
import { Scheduler } from "../schedule/mod.ts";
import { createStatusHandler, type StatusJob, StatusServer } from "../status/mod.ts";
import { LeaderElection, type Role } from "../etcd/mod.ts";
import { keyPrefix } from "../jobs/mod.ts";
import { jobSpec, Storages } from "./_jobs.ts";
import { Monitors } from "./_monitors.ts";

/** Options of {@linkcode Daemon}. */
export interface DaemonOptions {
  log: Logger;
  clock?: Clock;
  version?: string;
  /** The one redaction step for run records (and so status, state file, pings). */
  redact?: (text: string) => string;
}

/** The long-running process: scheduler, dispatcher and status server around one config. */
export class Daemon {
  #config: Config;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #store: RunStore;
  readonly #dispatcher: Dispatcher;
  readonly #version: string | undefined;
  readonly #monitors: Monitors;
  readonly #storages: Storages;
  readonly #since = new Map<string, Date>();
  readonly #paused = new Set<string>();
  readonly #closers: (() => unknown)[] = [];
  #specs = new Map<string, JobSpec>();
  #scheduler: Scheduler | undefined;
  #server: StatusServer | undefined;
  #stopped = false;
  #election: LeaderElection | undefined;
  #cleanup: Promise<void> = Promise.resolve();

  /** Prepares everything; {@linkcode start} begins scheduling. */
  constructor(config: Config, options: DaemonOptions) {
    this.#config = config;
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.#version = options.version;
    this.#store = new RunStore({
      historySize: config.status.history,
      ...(options.redact ? { redact: options.redact } : {}),
    });
    this.#dispatcher = new Dispatcher(this.#store, { log: this.#log, clock: this.#clock });
    this.#monitors = new Monitors(this.#store, config, this.#log);
    this.#storages = new Storages(config);
  }

  /** The run records, for tests and status. */
  get store(): RunStore {
    return this.#store;
  }

  /** The status server's address, when it runs. */
  get addr(): Deno.NetAddr | undefined {
    return this.#server?.addr;
  }

  /** Loads saved runs, starts the status server and the schedules. */
  async start(): Promise<void> {
    const status = this.#config.status;
    if (status.stateFile) {
      this.#closers.push(await persistStore(this.#store, status.stateFile, this.#log));
      this.#log.info("Keeping runs in the state file", { path: status.stateFile });
    }
    if (status.enabled) {
      const handler = createStatusHandler({
        jobs: () => this.#statusJobs(),
        history: (job) => this.#store.get(job),
        revision: () => this.#store.revision,
      }, {
        now: () => this.#clock.now(),
        ...(this.#version ? { version: this.#version } : {}),
        ...(status.token ? { token: status.token } : {}),
        protectReads: status.protectReads,
        actions: {
          run: (job) => {
            const spec = this.#specs.get(job);
            return spec ? this.#dispatcher.trigger(spec, { trigger: "manual" }) : "unknown job";
          },
          pause: (job) => this.#paused.add(job),
          resume: (job) => this.#paused.delete(job),
        },
        audit: (message, fields) => this.#log.warn(message, fields),
        ...(this.#config.ha
          ? {
            ha: () => ({
              role: this.#election?.role ?? "unknown",
              leader: this.#election?.leader ?? null,
              identity: this.#config.ha!.identity,
            }),
          }
          : {}),
      });
      this.#server = new StatusServer(handler, {
        hostname: status.hostname,
        port: status.port,
        log: this.#log,
      });
    } else {
      this.#log.info("Status server disabled (port 0)");
    }
    const startedAt = this.#clock.now();
    const ha = this.#config.ha;
    if (ha) {
      this.#election = new LeaderElection({
        endpoints: ha.etcd.endpoints,
        ...(ha.etcd.username !== undefined
          ? { username: ha.etcd.username, password: ha.etcd.password ?? "" }
          : {}),
        ...(ha.etcd.ca_file ? { caFile: ha.etcd.ca_file } : {}),
        ...(ha.etcd.cert_file ? { certFile: ha.etcd.cert_file } : {}),
        ...(ha.etcd.key_file ? { keyFile: ha.etcd.key_file } : {}),
        key: ha.key,
        identity: ha.identity,
        ttlSeconds: ha.ttlSeconds,
        log: this.#log,
      });
      this.#election.onChange((role, leader) => this.#onRole(role, leader, startedAt));
      this.#election.start();
    }
    this.#schedule(this.#config);
    if (!ha) this.#cleanup = this.#removeLeftovers(startedAt);
  }

  /** Leader: schedule (and clean what a dead leader left); anything else: stop scheduling. */
  #onRole(role: Role, leader: string | undefined, startedAt: Date): void {
    if (this.#stopped) return;
    this.#log.info(`High availability: ${role}`, { leader: leader ?? null });
    if (role === "leader" && !this.#scheduler) {
      this.#startScheduler(this.#config);
      this.#cleanup = this.#cleanup.then(() => this.#removeLeftovers(startedAt));
    } else if (role !== "leader" && this.#scheduler) {
      const scheduler = this.#scheduler;
      this.#scheduler = undefined;
      void scheduler.close();
      this.#dispatcher.discardPrepared();
    }
  }

  /**
   * Unfinished uploads under a job's prefix that began before this process started belong to a
   * run that died (kill -9, a crash, a lost node): remove them at start instead of waiting for
   * `stale_uploads_after`.
   */
  async #removeLeftovers(startedAt: Date): Promise<void> {
    for (const job of this.#config.jobs) {
      if (!job.upload || job.kind === "retention") continue;
      const prefix = keyPrefix(job.upload.key, job.name);
      try {
        const age = this.#clock.now().getTime() - startedAt.getTime();
        const removed = await this.#storages.get(job.upload.storage).cleanupStaleUploads(
          prefix,
          age,
        );
        if (removed > 0) {
          this.#log.warn(`Removed ${removed} unfinished upload(s) left by an earlier run`, {
            job: job.name,
            prefix,
          });
        }
      } catch (error) {
        this.#log.warn(`Could not check for unfinished uploads: ${(error as Error).message}`, {
          job: job.name,
        });
      }
    }
  }

  /** Swaps in a new config: schedules change at once, running jobs finish undisturbed. */
  async reload(config: Config): Promise<void> {
    if (this.#stopped) return;
    const listenChanged = config.status.hostname !== this.#config.status.hostname ||
      config.status.port !== this.#config.status.port ||
      config.status.enabled !== this.#config.status.enabled;
    if (listenChanged) {
      this.#log.warn("Changing status.listen needs a restart; keeping the old address");
    }
    await this.#scheduler?.close();
    this.#scheduler = undefined;
    this.#dispatcher.discardPrepared();
    if (config.ha?.key !== this.#config.ha?.key) {
      this.#log.warn("Changing the ha section needs a restart; keeping the old election");
    }
    this.#config = {
      ...config,
      status: this.#config.status,
      ...(this.#config.ha ? { ha: this.#config.ha } : {}),
    };
    this.#store.retain(config.jobs.map((job) => job.name));
    this.#schedule(this.#config);
    this.#log.info("Configuration reloaded", { jobs: config.jobs.map((job) => job.name) });
  }

  /** Stops scheduling, stops running jobs within the grace period, closes the server. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#scheduler?.close();
    await this.#cleanup;
    await this.#dispatcher.shutdown(this.#config.shutdownGraceMs);
    // Released only after our runs ended, so a standby cannot start a run beside ours.
    await this.#election?.close();
    await this.#monitors.close();
    this.#storages.close();
    for (const close of this.#closers.reverse()) await close();
    await this.#server?.close();
  }

  /** Builds the jobs of `config`; schedules them unless a leader election says to wait. */
  #schedule(config: Config): void {
    this.#storages.reload(config);
    this.#specs = new Map(config.jobs.map((job) => [job.name, jobSpec(job, this.#storages)]));
    this.#monitors.reload(config);
    for (const job of config.jobs) {
      this.#store.declare(job.name);
      if (!this.#since.has(job.name)) this.#since.set(job.name, this.#clock.now());
      this.#log.info("Scheduled job", {
        job: job.name,
        schedule: job.schedule.text,
        timezone: job.schedule.timezone,
        reading: job.schedule.description,
      });
    }
    if (this.#election && this.#election.role !== "leader") {
      this.#log.info("Waiting for leadership before scheduling", { role: this.#election.role });
      return;
    }
    this.#startScheduler(config);
  }

  #startScheduler(config: Config): void {
    this.#scheduler = new Scheduler(config.jobs, {
      clock: this.#clock,
      log: this.#log,
      onDue: (job, due) => {
        if (this.#paused.has(job.name)) {
          this.#dispatcher.discardPrepared(job.name);
          this.#log.info("Skipping run: job is paused", { job: job.name });
          this.#store.skip(job.name, "paused", this.#clock.now());
          return;
        }
        const spec = this.#specs.get(job.name);
        if (spec) this.#dispatcher.trigger(spec, due);
      },
      onSkip: (job, reason) => {
        this.#dispatcher.discardPrepared(job.name);
        this.#store.skip(job.name, reason, this.#clock.now());
      },
      onPrepare: (job) => {
        const spec = this.#specs.get(job.name);
        if (spec && !this.#paused.has(job.name)) this.#dispatcher.prepare(spec);
      },
    });
    this.#scheduler.start();
  }

  #statusJobs(): StatusJob[] {
    return this.#config.jobs.map((job) => {
      const next = this.#scheduler?.next(job.name);
      const since = this.#since.get(job.name);
      return {
        name: job.name,
        kind: job.kind,
        schedule: job.schedule.text,
        timezone: job.schedule.timezone,
        reading: job.schedule.description,
        ...(next ? { next } : {}),
        ...(job.staleAfterMs !== undefined ? { staleAfterMs: job.staleAfterMs } : {}),
        ...(since ? { since } : {}),
        paused: this.#paused.has(job.name),
      };
    });
  }
}
