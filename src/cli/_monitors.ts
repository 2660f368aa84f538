import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { DogStatsD } from "../metrics/mod.ts";
import { Notifier, type NotifyTarget } from "../notify/mod.ts";
import type { RunStore } from "../runner/mod.ts";

/** Where each job's pings and webhooks go, from the config. */
export function notifyTargets(config: Config): Map<string, NotifyTarget> {
  const targets = new Map<string, NotifyTarget>();
  for (const job of config.jobs) {
    if (!job.pingUrl && !job.webhookUrl) continue;
    targets.set(job.name, {
      ...(job.pingUrl ? { pingUrl: job.pingUrl } : {}),
      ...(job.webhookUrl ? { webhookUrl: job.webhookUrl } : {}),
      webhookOn: job.webhookOn,
    });
  }
  return targets;
}

/** The outputs that follow runs: pings, webhooks and DogStatsD, for `run` and `once` alike. */
export class Monitors {
  readonly #targets: Map<string, NotifyTarget>;
  readonly #notifier: Notifier;
  readonly #statsd: DogStatsD | undefined;
  readonly #detach: (() => void)[] = [];

  /** Subscribes the outputs the config asks for to `store`. */
  constructor(store: RunStore, config: Config, log: Logger) {
    this.#targets = notifyTargets(config);
    this.#notifier = new Notifier(this.#targets, { log });
    this.#detach.push(this.#notifier.attach(store));
    if (config.dogstatsd) {
      this.#statsd = new DogStatsD({ ...config.dogstatsd, log });
      this.#detach.push(this.#statsd.attach(store));
    }
  }

  /** Follows a reloaded config (jobs and URLs may have changed). */
  reload(config: Config): void {
    this.#targets.clear();
    for (const [job, target] of notifyTargets(config)) this.#targets.set(job, target);
  }

  /** Delivers what is under way (bounded) and closes sockets; safe twice. */
  async close(): Promise<void> {
    for (const detach of this.#detach.splice(0)) detach();
    await Promise.all([this.#notifier.close(), this.#statsd?.close()]);
  }
}
