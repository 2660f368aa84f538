import type { Config, JobConfig, StorageSection } from "../config/mod.ts";
import {
  type BackupTarget,
  commandJob,
  elasticsearchJob,
  etcdJob,
  retentionJob,
  storeOutput,
} from "../jobs/mod.ts";
import type { Job, JobSpec } from "../runner/mod.ts";
import { LocalStorage, s3Storage, type S3StorageOptions, type Storage } from "../storage/mod.ts";
import { VERSION } from "./_common.ts";

/** Opens the storage a config section describes (no connection is made yet). */
export function openStorage(section: StorageSection): Storage {
  if (section.type === "local") return new LocalStorage({ path: section.path });
  const options: S3StorageOptions = { bucket: section.bucket };
  if (section.prefix !== undefined) options.prefix = section.prefix;
  if (section.region) options.region = section.region;
  if (section.endpoint) options.endpoint = section.endpoint;
  if (section.force_path_style !== undefined) options.forcePathStyle = section.force_path_style;
  if (section.access_key_id && section.secret_access_key) {
    options.credentials = {
      accessKeyId: section.access_key_id,
      secretAccessKey: section.secret_access_key,
      ...(section.session_token ? { sessionToken: section.session_token } : {}),
    };
  }
  if (section.sse) options.sse = section.sse;
  if (section.kms_key_id) options.kmsKeyId = section.kms_key_id;
  if (section.storage_class) options.storageClass = section.storage_class;
  if (section.ca_file) options.caFile = section.ca_file;
  if (section.checksums) options.checksums = section.checksums;
  if (section.part_size) options.partSize = section.part_size;
  if (section.concurrency) options.concurrency = section.concurrency;
  if (section.max_object_size) options.maxObjectSize = section.max_object_size;
  if (section.idle_timeout) options.idleTimeoutMs = section.idle_timeout;
  return s3Storage(options);
}

/** The storages a config names, opened once and shared by its jobs. */
export class Storages {
  readonly #open = new Map<string, Storage>();
  #config: Config;

  /** Nothing is opened until a job asks. */
  constructor(config: Config) {
    this.#config = config;
  }

  /** Follows a reloaded config: storages whose section changed are reopened. */
  reload(config: Config): void {
    for (const [name, storage] of this.#open) {
      const before = JSON.stringify(this.#config.storage[name]);
      if (JSON.stringify(config.storage[name]) !== before) {
        storage.close();
        this.#open.delete(name);
      }
    }
    this.#config = config;
  }

  /** The storage called `name`. */
  get(name: string): Storage {
    let storage = this.#open.get(name);
    if (!storage) {
      const section = this.#config.storage[name];
      if (!section) throw new RangeError(`No storage named "${name}" in the config`);
      storage = openStorage(section);
      this.#open.set(name, storage);
    }
    return storage;
  }

  /** Closes every open storage; safe twice. */
  close(): void {
    for (const storage of this.#open.values()) storage.close();
    this.#open.clear();
  }
}

/** Where a job with `upload:` stores its backups. */
export function backupTarget(job: JobConfig, storages: Storages): BackupTarget | undefined {
  if (!job.upload) return undefined;
  return {
    storage: storages.get(job.upload.storage),
    upload: job.upload,
    ...(job.retention ? { retention: job.retention } : {}),
    timezone: job.schedule.timezone,
    staleUploadsAfterMs: job.staleUploadsAfterMs,
    version: VERSION,
  };
}

/** Builds the runnable job of a job's config. */
export function buildJob(job: JobConfig, storages: Storages): Job {
  const target = backupTarget(job, storages);
  if (job.kind === "etcd") return etcdJob(job.name, job.etcd!, target!);
  if (job.kind === "elasticsearch") return elasticsearchJob(job.name, job.elasticsearch!);
  if (job.kind === "retention") {
    return retentionJob(
      job.name,
      job.retentionOf!,
      job.elasticsearch ? { elasticsearch: job.elasticsearch } : { target: target! },
    );
  }
  const source = job.command
    ? { kind: "command", argv: job.command }
    : { kind: "command", shell: job.shell };
  return commandJob(job.name, {
    ...(job.command ? { argv: job.command } : {}),
    ...(job.shell !== undefined ? { shell: job.shell } : {}),
    ...(job.env ? { env: job.env } : {}),
    ...(job.workdir ? { workdir: job.workdir } : {}),
    ...(target ? { stdoutSink: storeOutput(job.name, target, source) } : {}),
  });
}

/** Turns a job's config into what the dispatcher runs. */
export function jobSpec(job: JobConfig, storages: Storages): JobSpec {
  const spec: JobSpec = {
    job: buildJob(job, storages),
    overlap: job.overlap,
    killGraceMs: job.killGraceMs,
    retries: job.retries,
    retryBackoffMs: job.retryBackoffMs,
  };
  if (job.group !== undefined) spec.group = job.group;
  if (job.timeoutMs !== undefined) spec.timeoutMs = job.timeoutMs;
  return spec;
}
