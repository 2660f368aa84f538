import type { Config, JobConfig, UploadConfig } from "../config/mod.ts";
import { snapshotChecker } from "../etcd/mod.ts";
import {
  ensureRepository,
  esClient,
  etcdClient,
  JOB_TAG,
  listBackups,
  type ListedBackup,
  planSnapshots,
  pruneBackups,
} from "../jobs/mod.ts";
import { backupPolicyFromKeys, formatPlan } from "../retention/mod.ts";
import { closestName } from "./_names.ts";
import {
  EXIT,
  loadConfigFrom,
  makeLogger,
  parseFlags,
  print,
  printError,
  UsageError,
} from "./_common.ts";
import type { RestoreProgress } from "../elasticsearch/mod.ts";
import { formatBytes } from "../storage/mod.ts";
import { Storages } from "./_jobs.ts";

/** Help text of `snapcron list`. */
export const LIST_HELP = `Usage: snapcron list JOB [--config FILE] [--json]

Lists the job's backups, newest first. Stored backups: key, time, size, SHA-256 and
whether the object is present, from the JSON manifest beside each. Elasticsearch
jobs: the job's snapshots with state, duration, indices and shard failures.`;

/** Help text of `snapcron verify`. */
export const VERIFY_HELP = `Usage: snapcron verify JOB [--config FILE]

Checks that the job's targets answer, without taking a backup: Elasticsearch jobs
create their repository if missing and verify it on every node; etcd jobs ask each
endpoint for its status; jobs with "upload" list their storage.`;

/** Help text of `snapcron retention`. */
export const RETENTION_HELP = `Usage: snapcron retention JOB [--config FILE] [--dry-run]

Applies the job's retention policy now. With --dry-run, prints each backup as KEEP
or DELETE with the rule that decided it, and deletes nothing. The same plan drives
the retention that runs after each successful backup.`;

/** Help text of `snapcron restore`. */
export const RESTORE_HELP = `Usage: snapcron restore JOB BACKUP --to FILE [--config FILE]
       snapcron restore JOB SNAPSHOT [--indices A,B] [--rename-pattern P --rename-replacement R]
                        [--include-global-state] [--close-existing] [--config FILE]

Stored backups (etcd, command dumps): downloads BACKUP (its key as "snapcron list"
shows it, or "latest"), checks its SHA-256 against the manifest, decompresses it and
writes it to FILE. For etcd it also checks etcd's own hash and prints the command
that finishes the restore.

Elasticsearch jobs: restores SNAPSHOT (or "latest", the newest successful one of the
job) and waits for it, printing its progress (shards and bytes recovered) to stderr
at most once a second; exits 1 naming the cause when a shard cannot be recovered. Restoring over an open index is refused unless
--close-existing closes it first; --rename-pattern/--rename-replacement restore
next to the live indices instead (e.g. --rename-pattern "(.+)" --rename-replacement
"restored-$1"). The cluster state is left alone unless --include-global-state.`;

async function findJob(name: string, configFlag: string | undefined, command: string) {
  const config = await loadConfigFrom(configFlag);
  const job = config.jobs.find((candidate) => candidate.name === name);
  if (!job) {
    const names = config.jobs.map((candidate) => candidate.name);
    throw new UsageError(
      `No job named "${name}" in "${config.file}"${closestName(name, names)}`,
      command,
    );
  }
  return { config, job };
}

function uploadOf(job: JobConfig, command: string): UploadConfig {
  if (!job.upload) {
    throw new UsageError(
      `Job "${job.name}" stores no backups: add "upload: { storage: NAME }" to it`,
      command,
    );
  }
  return job.upload;
}

/** `snapcron list JOB`: the job's backups from their manifests. */
export async function listCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("list", args, {
    config: { type: "string", short: "c" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    print(LIST_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new UsageError("Expected one JOB name: snapcron list JOB", "list");
  }
  const found = await findJob(positionals[0]!, values.config, "list");
  if (found.job.elasticsearch) {
    return await listSnapshots(found.config, found.job, values.json ?? false);
  }
  const { config, job } = found;
  const upload = uploadOf(job, "list");
  const storages = new Storages(config);
  try {
    const backups = await listBackups(storages.get(upload.storage), job.name, upload.key);
    if (values.json) {
      print(
        JSON.stringify(
          backups.map((backup) => ({ ...backup.manifest, present: backup.present })),
          null,
          2,
        ),
      );
      return EXIT.ok;
    }
    if (backups.length === 0) {
      print(`No backups of "${job.name}" in ${storages.get(upload.storage).description}`);
      return EXIT.ok;
    }
    const rows = backups.map((backup) => [
      backup.manifest.started_at.replace(/\.\d{3}Z$/, "Z"),
      formatBytes(backup.manifest.size),
      backup.manifest.sha256.slice(0, 12),
      backup.present ? "" : "MISSING",
      backup.key,
    ]);
    print(table([["STARTED", "SIZE", "SHA256", "", "KEY"], ...rows]));
    return EXIT.ok;
  } finally {
    storages.close();
  }
}

/** `snapcron retention JOB [--dry-run]`: plan, and unless dry-run, prune. */
export async function retentionCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("retention", args, {
    config: { type: "string", short: "c" },
    "dry-run": { type: "boolean", short: "n" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    print(RETENTION_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new UsageError("Expected one JOB name: snapcron retention JOB [--dry-run]", "retention");
  }
  const found = await findJob(positionals[0]!, values.config, "retention");
  if (found.job.elasticsearch) {
    return await snapshotRetention(found.config, found.job, values["dry-run"] ?? false);
  }
  const { config, job } = found;
  const upload = uploadOf(job, "retention");
  if (!job.retention) {
    throw new UsageError(
      `Job "${job.name}" has no "retention" policy: nothing would be deleted`,
      "retention",
    );
  }
  const storages = new Storages(config);
  try {
    const { plan, items, deleted } = await pruneBackups(
      storages.get(upload.storage),
      job.name,
      upload.key,
      backupPolicyFromKeys(job.retention),
      {
        now: new Date(),
        timezone: job.schedule.timezone,
        dryRun: values["dry-run"] ?? false,
        log: makeLogger(config, undefined),
      },
    );
    for (const line of formatPlan(plan, items)) print(line);
    if (!values["dry-run"]) print(`Deleted ${deleted} backup(s)`);
    return EXIT.ok;
  } finally {
    storages.close();
  }
}

/** `snapcron restore JOB BACKUP --to FILE`: download, verify, decompress. */
export async function restoreCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("restore", args, {
    config: { type: "string", short: "c" },
    to: { type: "string", short: "o" },
    indices: { type: "string" },
    "rename-pattern": { type: "string" },
    "rename-replacement": { type: "string" },
    "include-global-state": { type: "boolean" },
    "close-existing": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    print(RESTORE_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 2) {
    throw new UsageError(
      "Expected JOB and BACKUP: snapcron restore JOB BACKUP --to FILE",
      "restore",
    );
  }
  const [name, wanted] = positionals as [string, string];
  const found = await findJob(name, values.config, "restore");
  if (found.job.elasticsearch) {
    return await restoreSnapshot(found.config, found.job, wanted, {
      ...(values.indices ? { indices: values.indices.split(",").map((i) => i.trim()) } : {}),
      ...(values["rename-pattern"] ? { renamePattern: values["rename-pattern"] } : {}),
      ...(values["rename-replacement"] !== undefined
        ? { renameReplacement: values["rename-replacement"] }
        : {}),
      includeGlobalState: values["include-global-state"] ?? false,
      closeExisting: values["close-existing"] ?? false,
    });
  }
  if (!values.to) {
    throw new UsageError("Missing --to FILE: where to write the restored backup", "restore");
  }
  const { config, job } = found;
  const upload = uploadOf(job, "restore");
  const storages = new Storages(config);
  try {
    const storage = storages.get(upload.storage);
    const backups = await listBackups(storage, job.name, upload.key);
    const backup = pickBackup(backups, wanted, job);
    const size = await restoreBackup(backup, storage, values.to, job);
    print(`Restored ${backup.key} to ${values.to} (${formatBytes(size)}, SHA-256 checked)`);
    if (job.kind === "etcd") {
      print(
        "Finish the restore with:\n" +
          `  etcdutl snapshot restore ${values.to} --data-dir /var/lib/etcd-restored\n` +
          `  (etcd 3.4: ETCDCTL_API=3 etcdctl snapshot restore ${values.to} --data-dir /var/lib/etcd-restored)`,
      );
    }
    return EXIT.ok;
  } finally {
    storages.close();
  }
}

function pickBackup(backups: ListedBackup[], wanted: string, job: JobConfig): ListedBackup {
  const present = backups.filter((backup) => backup.present);
  const found = wanted === "latest"
    ? present[0]
    : present.find((backup) => backup.key === wanted) ??
      (present.filter((backup) => backup.key.endsWith(wanted)).length === 1
        ? present.find((backup) => backup.key.endsWith(wanted))
        : undefined);
  if (!found) {
    throw new UsageError(
      present.length === 0
        ? `Job "${job.name}" has no stored backups yet`
        : `No backup "${wanted}" of job "${job.name}": run "snapcron list ${job.name}" and pass a KEY, or "latest"`,
      "restore",
    );
  }
  return found;
}

/** Streams a backup to `target`, checking its hash; returns the bytes written. */
async function restoreBackup(
  backup: ListedBackup,
  storage: ReturnType<Storages["get"]>,
  target: string,
  job: JobConfig,
): Promise<number> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  const stored = (await storage.get(backup.key)).pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hash.update(chunk);
        controller.enqueue(chunk);
      },
      flush(controller) {
        const actual = hash.digest("hex");
        if (actual !== backup.manifest.sha256) {
          controller.error(
            new Error(
              `Backup "${backup.key}" is corrupt: SHA-256 ${actual} differs from the manifest's ${backup.manifest.sha256}`,
            ),
          );
        }
      },
    }),
  );
  let content = backup.manifest.compress === "gzip"
    ? stored.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    )
    : stored;
  if (job.kind === "etcd") content = content.pipeThrough(await snapshotChecker());
  const temp = `${target}.${crypto.randomUUID().slice(0, 8)}.partial`;
  let written = 0;
  try {
    const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
    try {
      for await (const chunk of content) {
        written += chunk.byteLength;
        let offset = 0;
        while (offset < chunk.byteLength) offset += await file.write(chunk.subarray(offset));
      }
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, target);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  return written;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join(
    "\n",
  );
}

/** `list` for an Elasticsearch job: its snapshots, newest first. */
async function listSnapshots(config: Config, job: JobConfig, json: boolean): Promise<number> {
  const es = job.elasticsearch!;
  const client = esClient(es, makeLogger(config, undefined));
  try {
    const snapshots = (await client.listSnapshots(es.repository.name))
      .filter((snapshot) => snapshot.metadata?.[JOB_TAG] === job.name)
      .sort((a, b) => b.start_time_in_millis - a.start_time_in_millis);
    if (json) {
      print(JSON.stringify(snapshots, null, 2));
      return EXIT.ok;
    }
    if (snapshots.length === 0) {
      print(`No snapshots of "${job.name}" in repository "${es.repository.name}"`);
      return EXIT.ok;
    }
    const rows = snapshots.map((snapshot) => [
      new Date(snapshot.start_time_in_millis).toISOString().replace(/\.\d{3}Z$/, "Z"),
      snapshot.state,
      `${(snapshot.duration_in_millis / 1000).toFixed(1)}s`,
      String(snapshot.indices.length),
      snapshot.shards.failed > 0 ? `${snapshot.shards.failed} failed` : "",
      snapshot.snapshot,
    ]);
    print(table([["STARTED", "STATE", "TOOK", "INDICES", "SHARDS", "SNAPSHOT"], ...rows]));
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

/** `retention` for an Elasticsearch job. */
async function snapshotRetention(config: Config, job: JobConfig, dryRun: boolean): Promise<number> {
  const es = job.elasticsearch!;
  if (!es.retention) {
    throw new UsageError(
      `Job "${job.name}" has no "elasticsearch.retention" policy: nothing would be deleted`,
      "retention",
    );
  }
  const client = esClient(es, makeLogger(config, undefined));
  try {
    const { plan, items } = await planSnapshots(client, es, job.name, { now: new Date() });
    for (const line of formatPlan(plan, items)) print(line);
    if (!dryRun && plan.delete.length > 0) {
      const result = await client.deleteSnapshots(es.repository.name, plan.delete);
      print(`Deleted ${result.deleted.length} snapshot(s)`);
    }
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

interface SnapshotRestoreOptions {
  indices?: string[];
  renamePattern?: string;
  renameReplacement?: string;
  includeGlobalState: boolean;
  closeExisting: boolean;
}

/** `restore` for an Elasticsearch job: checks for open targets, restores, waits. */
async function restoreSnapshot(
  config: Config,
  job: JobConfig,
  wanted: string,
  options: SnapshotRestoreOptions,
): Promise<number> {
  const es = job.elasticsearch!;
  if ((options.renamePattern === undefined) !== (options.renameReplacement === undefined)) {
    throw new UsageError("--rename-pattern and --rename-replacement go together", "restore");
  }
  const log = makeLogger(config, undefined);
  const client = esClient(es, log);
  try {
    const snapshots = await client.listSnapshots(es.repository.name);
    const snapshot = wanted === "latest"
      ? snapshots
        .filter((s) => s.metadata?.[JOB_TAG] === job.name && s.state === "SUCCESS")
        .sort((a, b) => b.start_time_in_millis - a.start_time_in_millis)[0]
      : snapshots.find((s) => s.snapshot === wanted);
    if (!snapshot) {
      throw new UsageError(
        `No snapshot "${wanted}" in repository "${es.repository.name}": run "snapcron list ${job.name}"`,
        "restore",
      );
    }
    const chosen = options.indices ?? snapshot.indices;
    const pattern = options.renamePattern !== undefined
      ? new RegExp(options.renamePattern)
      : undefined;
    const targets = chosen.map((index) =>
      // Elasticsearch's replacement syntax is Java's: $1 works the same in JavaScript.
      pattern ? index.replace(pattern, options.renameReplacement!) : index
    );
    const open = await client.openIndices(targets);
    if (open.length > 0) {
      if (!options.closeExisting) {
        throw new UsageError(
          `Restoring "${snapshot.snapshot}" would overwrite open ${
            open.length === 1 ? "index" : "indices"
          } ` +
            `${
              open.map((i) => `"${i}"`).join(", ")
            }: pass --close-existing to close and replace them, ` +
            `or restore beside them with --rename-pattern "(.+)" --rename-replacement "restored-$1"`,
          "restore",
        );
      }
      print(`Closing ${open.join(", ")} to restore over them`);
      await client.closeIndices(open);
    }
    print(`Restoring ${targets.length} indices from "${snapshot.snapshot}"…`);
    // Restoring every index of the snapshot: its shard count is known before any shard starts.
    const expected = options.indices === undefined ? snapshot.shards.successful : 0;
    const started = performance.now();
    let seen: RestoreProgress | undefined;
    let shown = "";
    let shownAt = 0;
    const result = await client.restoreSnapshot(es.repository.name, snapshot.snapshot, {
      indices: chosen,
      include_global_state: options.includeGlobalState,
      ...(options.renamePattern !== undefined
        ? { rename_pattern: options.renamePattern, rename_replacement: options.renameReplacement! }
        : {}),
    }, {
      waitForCompletion: true,
      targets,
      onProgress: (progress) => {
        seen = progress;
        const line = restoreProgressLine(snapshot.snapshot, progress, expected);
        // An unchanged line every second is noise: repeat it every 10 s to show it is alive.
        if (line === shown && performance.now() - shownAt < 10_000) return;
        shown = line;
        shownAt = performance.now();
        printError(line);
      },
    });
    const took = `${((performance.now() - started) / 1000).toFixed(1)}s`;
    const size = seen && seen.bytesTotal > 0 ? `, ${formatBytes(seen.bytesTotal)}` : "";
    const { failed, successful, total } = result.shards;
    if (failed > 0) {
      const shards = await client.unassignedShards(result.indices).catch(() => []);
      for (const shard of shards) {
        printError(
          `  index "${shard.index}" shard ${shard.shard}: ${shard.reason}` +
            (shard.detail ? `: ${shard.detail}` : ""),
        );
      }
      printError(
        `Restore of "${snapshot.snapshot}" failed: ${failed} of ${total} shards could not be ` +
          `recovered (${successful} restored in ${took}); the indices with failed shards are red: ` +
          "fix the cause above, delete them and restore again",
      );
      return EXIT.failed;
    }
    print(
      `Restored ${result.indices.length} indices (${successful}/${total} shards${size}) in ${took}`,
    );
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

/** `Restoring "s": 3/5 shards, 1.2 MiB of 4 MiB (30%); in progress: a 12%, b 80%`. */
function restoreProgressLine(
  snapshot: string,
  progress: RestoreProgress,
  expected: number,
): string {
  const total = Math.max(progress.shardsTotal, expected);
  const percent = progress.bytesTotal > 0
    ? Math.floor((progress.bytesDone / progress.bytesTotal) * 100)
    : total > 0
    ? Math.floor((progress.shardsDone / total) * 100)
    : 0;
  let line = `Restoring "${snapshot}": ${progress.shardsDone}/${total} shards, ` +
    `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal)} (${percent}%)`;
  const running = Object.entries(progress.indices)
    .filter(([, index]) => index.shardsDone < index.shardsTotal);
  if (Object.keys(progress.indices).length > 1 && running.length > 0) {
    const shown = running.slice(0, 3).map(([name, index]) =>
      `${name} ${
        index.bytesTotal > 0 ? Math.floor((index.bytesDone / index.bytesTotal) * 100) : 0
      }%`
    );
    if (running.length > 3) shown.push(`${running.length - 3} more`);
    line += `; in progress: ${shown.join(", ")}`;
  }
  return line;
}

/** `snapcron verify JOB`: can the job reach what it needs? */
export async function verifyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("verify", args, {
    config: { type: "string", short: "c" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    print(VERIFY_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new UsageError("Expected one JOB name: snapcron verify JOB", "verify");
  }
  const { config, job } = await findJob(positionals[0]!, values.config, "verify");
  const log = makeLogger(config, undefined);
  const signal = AbortSignal.timeout(60_000);
  let healthy = true;
  if (job.elasticsearch) {
    const client = esClient(job.elasticsearch, log);
    try {
      const info = await client.info();
      const nodes = await ensureRepository(client, job.elasticsearch, { log, signal }, true);
      print(
        `${info.flavour} ${info.version}: repository "${job.elasticsearch.repository.name}" ` +
          (nodes.length > 0 ? `verified on ${nodes.join(", ")}` : "exists (verify: false)"),
      );
    } finally {
      await client.close();
    }
  }
  if (job.etcd) {
    for (const endpoint of job.etcd.endpoints) {
      const client = etcdClient(job.etcd, [endpoint], log);
      try {
        const status = await client.status(signal);
        print(
          `etcd ${endpoint}: version ${status.version}, revision ${status.revision}, ${
            formatBytes(status.dbSize)
          }`,
        );
      } catch (error) {
        print(`etcd ${endpoint}: ${(error as Error).message}`);
        healthy = false;
      } finally {
        client.close();
      }
    }
  }
  if (job.upload) {
    const storages = new Storages(config);
    try {
      const storage = storages.get(job.upload.storage);
      const backups = await listBackups(storage, job.name, job.upload.key, signal);
      print(`${storage.description}: reachable, ${backups.length} backup(s) of "${job.name}"`);
    } finally {
      storages.close();
    }
  }
  return healthy ? EXIT.ok : EXIT.failed;
}
