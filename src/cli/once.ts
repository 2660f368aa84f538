import { createRedactor } from "../log/mod.ts";
import { keyPrefix } from "../jobs/mod.ts";
import { runJob, RunStore } from "../runner/mod.ts";
import { Monitors } from "./_monitors.ts";
import { closestName } from "./_names.ts";
import {
  EXIT,
  loadConfigFrom,
  logFormat,
  makeLogger,
  parseFlags,
  print,
  UsageError,
} from "./_common.ts";
import { jobSpec, Storages } from "./_jobs.ts";

/** Help text of `snapcron once`. */
export const ONCE_HELP = `Usage: snapcron once JOB [--config FILE] [--log-format text|json]

Runs one job of the config now, with its timeout and retries, and exits with
0 when it succeeded and 1 when it failed. For Kubernetes CronJobs and for testing.`;

/** `snapcron once JOB`: one run, exit status from its result. */
export async function onceCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("once", args, {
    config: { type: "string", short: "c" },
    "log-format": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    print(ONCE_HELP);
    return EXIT.ok;
  }
  const format = logFormat(values["log-format"], "text");
  if (positionals.length !== 1) {
    throw new UsageError("Expected one JOB name: snapcron once JOB", "once");
  }
  const name = positionals[0]!;
  const config = await loadConfigFrom(values.config);
  const job = config.jobs.find((candidate) => candidate.name === name);
  if (!job) {
    const names = config.jobs.map((candidate) => candidate.name);
    throw new UsageError(
      `No job named "${name}" in "${config.file}"${closestName(name, names)}`,
      "once",
    );
  }
  const log = makeLogger(config, values["log-format"] ? format : undefined);
  const storages = new Storages(config);
  const spec = jobSpec(job, storages);
  if (job.upload && job.kind !== "retention") {
    // A killed earlier run (a CronJob pod evicted mid-upload) leaves an unfinished upload.
    const prefix = keyPrefix(job.upload.key, job.name);
    const removed = await storages.get(job.upload.storage).cleanupStaleUploads(prefix, 0)
      .catch((error) => {
        log.warn(`Could not check for unfinished uploads: ${(error as Error).message}`);
        return 0;
      });
    if (removed > 0) log.warn(`Removed ${removed} unfinished upload(s) left by an earlier run`);
  }
  const controller = new AbortController();
  const cancel = () => controller.abort();
  Deno.addSignalListener("SIGTERM", cancel);
  Deno.addSignalListener("SIGINT", cancel);
  // Pings, webhooks and DogStatsD follow a one-shot run as they follow scheduled ones, so a
  // Kubernetes CronJob running `snapcron once` is monitored the same way.
  const store = new RunStore({ redact: createRedactor(config.secrets) });
  const monitors = new Monitors(store, config, log);
  try {
    const record = await runJob(spec.job, {
      log,
      trigger: "once",
      onUpdate: (update) => store.update(update),
      signal: controller.signal,
      killGraceMs: spec.killGraceMs ?? 10_000,
      ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
      ...(spec.retries !== undefined ? { retries: spec.retries } : {}),
      ...(spec.retryBackoffMs !== undefined ? { retryBackoffMs: spec.retryBackoffMs } : {}),
    });
    store.finish(record);
    if (record.result === "success") {
      log.info("Run succeeded", { job: name });
      return EXIT.ok;
    }
    log.error(`Run failed: ${record.error ?? record.result}`, {
      job: name,
      exit_status: record.exitStatus,
    });
    return EXIT.failed;
  } finally {
    await monitors.close();
    storages.close();
    Deno.removeSignalListener("SIGTERM", cancel);
    Deno.removeSignalListener("SIGINT", cancel);
  }
}
