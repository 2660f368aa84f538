import type { BackupRetentionSection, UploadConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  type BackupItem,
  backupPolicyFromKeys,
  type BackupRetentionPolicy,
  type Plan,
  planBackupRetention,
} from "../retention/mod.ts";
import type { Artifact, JobContext, JobOutcome } from "../runner/mod.ts";
import type { Storage } from "../storage/mod.ts";

/** The small JSON file beside every backup: what it is and what proves it. */
export interface Manifest {
  format: 1;
  job: string;
  key: string;
  run_id: string;
  started_at: string;
  finished_at: string;
  /** Bytes stored (after compression). */
  size: number;
  /** Hex SHA-256 of the stored bytes. */
  sha256: string;
  /** Bytes before compression. */
  content_size: number;
  compress: "gzip" | "none";
  /** Facts about the source: kind, etcd revision and version, command line, … */
  source: Record<string, unknown>;
  snapcron_version: string;
}

/** A manifest sits at the backup's key plus this. */
export const MANIFEST_SUFFIX = ".manifest.json";
const MAX_MANIFEST_BYTES = 1 << 20;
/** Least time between two progress reports while a backup streams. */
const PROGRESS_INTERVAL_MS = 200;

/** Fills a key template: `{job}`, `{time}` (20260131T020000Z), `{date}` (2026-01-31), `{run}`. */
export function renderKey(
  template: string,
  values: { job: string; time: Date; run: string },
): string {
  const iso = values.time.toISOString();
  const fill: Record<string, string> = {
    job: values.job,
    time: iso.replace(/[-:]/g, "").replace(/\.\d{3}/, ""),
    date: iso.slice(0, 10),
    run: values.run,
  };
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => fill[name] ?? whole);
}

/** The fixed start of every key a template makes for `job`: where to list its backups. */
export function keyPrefix(template: string, job: string): string {
  const filled = template.replaceAll("{job}", job);
  const cut = filled.indexOf("{");
  const head = cut < 0 ? filled : filled.slice(0, cut);
  return head.slice(0, head.lastIndexOf("/") + 1);
}

/** Options of {@linkcode storeBackup}. */
export interface StoreBackupOptions {
  storage: Storage;
  upload: UploadConfig;
  job: string;
  runId: string;
  startedAt: Date;
  version: string;
  /** Facts about the source, known before the bytes flow (more may be added by `facts()`). */
  source: Record<string, unknown>;
  /** Called after the body ended, for facts only known then (e.g. etcd's snapshot hash). */
  finalFacts?: () => Promise<Record<string, unknown>>;
  /**
   * The body's size and hex SHA-256 from a source that hashes it anyway (etcd's check of its
   * snapshot): without compression the storage then need not hash the same bytes again.
   */
  bodyDigest?: () => Promise<{ size: number; sha256: string }>;
  signal?: AbortSignal;
  /** Bytes read from the source so far. */
  onProgress?: (bytes: number) => void;
}

/**
 * Streams `body` into storage (gzip when asked), then writes the manifest beside it. The object
 * appears whole or not at all: when `body` errors (bad hash, failed command) the upload aborts.
 */
export async function storeBackup(
  body: ReadableStream<Uint8Array>,
  options: StoreBackupOptions,
): Promise<{ manifest: Manifest; artifact: Artifact }> {
  const { storage, upload } = options;
  const key = renderKey(upload.key, {
    job: options.job,
    time: options.startedAt,
    run: options.runId,
  });
  let contentSize = 0;
  // Progress every chunk (tens of thousands per backup) goes through the run record, the log's
  // redaction and the status server: a few updates a second say as much.
  let reportedAt = -Infinity;
  const report = (force: boolean) => {
    const now = performance.now();
    if (!force && now - reportedAt < PROGRESS_INTERVAL_MS) return;
    reportedAt = now;
    options.onProgress?.(contentSize);
  };
  const counted = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        contentSize += chunk.byteLength;
        report(false);
        controller.enqueue(chunk);
      },
      flush() {
        report(true);
      },
    }),
  );
  const packed = upload.compress === "gzip" ? counted.pipeThrough(gzip()) : counted;
  const result = await storage.put(key, packed, {
    contentType: upload.compress === "gzip" ? "application/gzip" : "application/octet-stream",
    metadata: { "snapcron-job": options.job },
    ...(options.signal ? { signal: options.signal } : {}),
    // Compressed, the stored bytes are not the ones the source hashed.
    ...(options.bodyDigest && upload.compress === "none" ? { bodyDigest: options.bodyDigest } : {}),
  });
  const manifest: Manifest = {
    format: 1,
    job: options.job,
    key,
    run_id: options.runId,
    started_at: options.startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    size: result.size,
    sha256: result.sha256,
    content_size: contentSize,
    compress: upload.compress,
    source: { ...options.source, ...(await options.finalFacts?.()) },
    snapcron_version: options.version,
  };
  const text = JSON.stringify(manifest, null, 2) + "\n";
  try {
    await storage.put(
      key + MANIFEST_SUFFIX,
      ReadableStream.from([new TextEncoder().encode(text)]),
      {
        contentType: "application/json",
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
  } catch (error) {
    // Without its manifest a backup is invisible to listing and retention: do not leave it.
    await storage.delete([key]).catch(() => {});
    throw error;
  }
  return {
    manifest,
    artifact: {
      kind: "backup",
      name: key,
      size: result.size,
      sha256: result.sha256,
      location: `${storage.description.replace(/\/$/, "")}/${key}`,
      state: "stored",
    },
  };
}

/** A gzip compressor typed for byte streams (the DOM types take any BufferSource in). */
function gzip(): TransformStream<Uint8Array, Uint8Array> {
  return new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
}

/** A backup found in storage. */
export interface ListedBackup {
  key: string;
  manifest: Manifest;
  /** False when the manifest is there but the object is gone. */
  present: boolean;
}

/** Reads the manifests of `job`'s backups, newest first. Other jobs' backups are left out. */
export async function listBackups(
  storage: Storage,
  job: string,
  template: string,
  signal?: AbortSignal,
): Promise<ListedBackup[]> {
  const objects = await storage.list(keyPrefix(template, job), signal ? { signal } : {});
  const keys = new Set(objects.map((object) => object.key));
  const out: ListedBackup[] = [];
  for (const object of objects) {
    if (!object.key.endsWith(MANIFEST_SUFFIX)) continue;
    const manifest = await readManifest(storage, object.key, signal);
    if (manifest?.job !== job) continue;
    out.push({ key: manifest.key, manifest, present: keys.has(manifest.key) });
  }
  return out.sort((a, b) => b.manifest.started_at.localeCompare(a.manifest.started_at));
}

/** Reads one manifest; undefined when it is not snapcron's or does not parse. */
export async function readManifest(
  storage: Storage,
  key: string,
  signal?: AbortSignal,
): Promise<Manifest | undefined> {
  const stream = await storage.get(key, signal ? { signal } : {});
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    if (text.length > MAX_MANIFEST_BYTES) {
      await stream.cancel().catch(() => {});
      return undefined;
    }
  }
  try {
    const data = JSON.parse(text);
    return data?.format === 1 && typeof data.key === "string" ? data as Manifest : undefined;
  } catch {
    return undefined;
  }
}

/** Options of {@linkcode pruneBackups}. */
export interface PruneOptions {
  now: Date;
  timezone?: string;
  dryRun?: boolean;
  log: Logger;
  signal?: AbortSignal;
}

/** Plans retention over `job`'s stored backups and, unless dry-run, deletes what it says. */
export async function pruneBackups(
  storage: Storage,
  job: string,
  template: string,
  policy: BackupRetentionPolicy,
  options: PruneOptions,
): Promise<{ plan: Plan; items: BackupItem[]; deleted: number }> {
  const backups = await listBackups(storage, job, template, options.signal);
  const items: BackupItem[] = backups.map((backup) => ({
    id: backup.key,
    time: new Date(backup.manifest.started_at),
    // A manifest whose object is gone is no backup: retention may delete what is left of it.
    ok: backup.present,
    job: backup.manifest.job,
    state: backup.present ? "stored" : "missing",
    size: backup.manifest.size,
  }));
  const plan = planBackupRetention(items, policy, {
    now: options.now,
    job,
    ...(options.timezone ? { timezone: options.timezone } : {}),
  });
  if (options.dryRun || plan.delete.length === 0) return { plan, items, deleted: 0 };
  // Data first, manifest last: an interruption leaves a manifest naming a missing object, which
  // the next run sees and removes, never an object nobody can find.
  await storage.delete(plan.delete, options.signal ? { signal: options.signal } : {});
  await storage.delete(
    plan.delete.map((key) => key + MANIFEST_SUFFIX),
    options.signal ? { signal: options.signal } : {},
  );
  options.log.info(`Retention deleted ${plan.delete.length} backup(s)`, {
    job,
    kept: plan.keep.length,
  });
  return { plan, items, deleted: plan.delete.length };
}

/** What a job that stores backups needs besides its source. */
export interface BackupTarget {
  storage: Storage;
  upload: UploadConfig;
  retention?: BackupRetentionSection;
  /** Zone whose calendar days and weeks retention counts in. */
  timezone: string;
  staleUploadsAfterMs: number;
  version: string;
}

/**
 * After a stored backup: remove stale uploads and prune old backups. A failure here is reported
 * on the run's stderr and in the log but does not undo the backup that just succeeded.
 */
export async function housekeeping(
  job: string,
  target: BackupTarget,
  ctx: Pick<JobContext, "log" | "stderr" | "signal">,
): Promise<number> {
  const prefix = keyPrefix(target.upload.key, job);
  try {
    const stale = await target.storage.cleanupStaleUploads(prefix, target.staleUploadsAfterMs);
    if (stale > 0) ctx.log.info(`Removed ${stale} stale unfinished upload(s)`, { prefix });
  } catch (error) {
    ctx.log.warn(`Could not clean up stale uploads: ${(error as Error).message}`);
  }
  if (!target.retention) return 0;
  try {
    const { deleted } = await pruneBackups(
      target.storage,
      job,
      target.upload.key,
      backupPolicyFromKeys(target.retention),
      { now: new Date(), timezone: target.timezone, log: ctx.log, signal: ctx.signal },
    );
    return deleted;
  } catch (error) {
    const message = `Retention failed: ${(error as Error).message}`;
    ctx.log.error(message);
    ctx.stderr(message + "\n");
    return 0;
  }
}

/** A stdout sink for command jobs with `upload:`: stores the output, then housekeeping. */
export function storeOutput(
  job: string,
  target: BackupTarget,
  source: Record<string, unknown>,
): (
  stdout: ReadableStream<Uint8Array>,
  ctx: JobContext,
) => Promise<Pick<JobOutcome, "artifacts" | "deletions">> {
  return async (stdout, ctx) => {
    const { manifest, artifact } = await storeBackup(stdout, {
      ...target,
      job,
      runId: ctx.runId,
      startedAt: ctx.startedAt,
      source,
      signal: ctx.signal,
      onProgress: (bytes) => ctx.progress({ bytes }),
    });
    ctx.log.info(`Stored ${manifest.key}`, { size: manifest.size, sha256: manifest.sha256 });
    const deletions = await housekeeping(job, target, ctx);
    return { artifacts: [artifact], deletions };
  };
}
