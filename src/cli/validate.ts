import { formatDuration } from "../config/mod.ts";
import { EXIT, loadConfigFrom, parseFlags, print } from "./_common.ts";

/** Help text of `snapcron validate`. */
export const VALIDATE_HELP = `Usage: snapcron validate [--config FILE]

Checks the config and prints the plan: each job, how its schedule was read and
its next three run times. Exits 0 when the config is valid, 2 when it is not.`;

/** `snapcron validate`: check the config, print the plan. */
export async function validateCommand(args: string[]): Promise<number> {
  const { values } = parseFlags("validate", args, {
    config: { type: "string", short: "c" },
    help: { type: "boolean", short: "h" },
  }, false);
  if (values.help) {
    print(VALIDATE_HELP);
    return EXIT.ok;
  }
  const config = await loadConfigFrom(values.config);
  const now = new Date();
  const status = config.status.enabled
    ? `status on ${config.status.hostname}:${config.status.port}`
    : "status server disabled";
  print(`Config "${config.file}" is valid: ${config.jobs.length} job(s), ${status}`);
  for (const job of config.jobs) {
    const what = job.kind === "retention"
      ? `applies the retention of "${job.retentionOf}" on its own schedule`
      : job.etcd
      ? `etcd ${job.etcd.endpoints.join(", ")}`
      : job.elasticsearch
      ? `${
        job.elasticsearch.urls.join(", ")
      } into repository "${job.elasticsearch.repository.name}"`
      : job.command
      ? JSON.stringify(job.command)
      : `sh -c ${JSON.stringify(job.shell)}`;
    print(`\n${job.name} (${job.kind}): ${what}`);
    print(
      `  schedule  "${job.schedule.text}" (${job.schedule.description}), zone ${job.schedule.timezone}`,
    );
    const rules = [
      `overlap ${job.overlap}`,
      job.timeoutMs !== undefined ? `timeout ${formatDuration(job.timeoutMs)}` : "no timeout",
      `retries ${job.retries}`,
      ...(job.group ? [`group ${job.group}`] : []),
      ...(job.jitterMs ? [`jitter ${formatDuration(job.jitterMs)}`] : []),
      ...(job.runOnStart ? ["runs on start"] : []),
      ...(job.startingDeadlineMs !== undefined
        ? [`starting deadline ${formatDuration(job.startingDeadlineMs)}`]
        : []),
    ];
    print(`  rules     ${rules.join(", ")}`);
    if (job.upload) {
      const storage = config.storage[job.upload.storage]!;
      const where = storage.type === "s3"
        ? `s3://${storage.bucket}/${storage.prefix ?? ""}`
        : storage.path;
      print(`  upload    ${where} as "${job.upload.key}" (${job.upload.compress})`);
    }
    if (job.retention) print(`  retention ${JSON.stringify(job.retention)}`);
    let at = now;
    const times: string[] = [];
    for (let i = 0; i < 3; i++) {
      const next = job.schedule.next(at);
      if (!next) break;
      times.push(next.at.toISOString());
      at = next.at;
    }
    print(`  next      ${times.length > 0 ? times.join(", ") : "never"}`);
  }
  return EXIT.ok;
}
