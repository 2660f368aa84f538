import { parseDuration, parseSize } from "./_duration.ts";
import * as v from "./_shape.ts";

// A bare number is accepted here so that `30` gets the duration message ("use a unit"), not a
// type error.
const duration = v.union<string | number>(
  [v.string(), v.number()],
  'expected a duration such as "30s"',
)
  .map((value) => parseDuration(String(value)));

/** Whole numbers, also as strings so that `${RETRIES:-3}` works. */
function wholeNumber(min: number, max: number) {
  return v.union<string | number>([
    v.number(),
    v.string().matches(/^\s*-?\d+\s*$/, "expected a whole number"),
  ], "expected a whole number")
    .map(Number)
    .pipe(v.number().whole().atLeast(min).atMost(max));
}

const flag = v.union<boolean>([
  v.boolean(),
  v.oneOf(["true", "false"]).map((value) => value === "true"),
], "expected true or false");

const scalarString = v.union<string | number | boolean>(
  [v.string(), v.number(), v.boolean()],
  "expected a string, number or boolean",
).map(String);

/**
 * An http(s) URL; `example` shows the fix. A `secret` URL (pings, webhooks) is never echoed,
 * and the password part of any other is masked.
 */
function httpUrl(example: string, secret = false) {
  return v.string().map((value) => {
    const shown = secret
      ? "(not shown: it may hold a secret)"
      : `"${value.replace(/(\/\/[^:/?#@\s]*:)[^@/?#\s]+@/, "$1***@")}"`;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new TypeError(`invalid URL ${shown}: write it in full, e.g. "${example}"`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`invalid URL ${shown}: use http:// or https://, e.g. "${example}"`);
    }
    return value.replace(/\/+$/, "");
  });
}

const size = v.union<string | number>(
  [v.number().whole().positive(), v.string()],
  'expected a size such as "16MiB"',
).map((value) => parseSize(String(value)));

/** Where a job's output or snapshot bytes go, and how they are packed. */
const uploadSchema = v.object({
  storage: v.string().nonEmpty(),
  key: v.string().nonEmpty().optional(),
  compress: v.oneOf(["gzip", "none"]).optional(),
});

/** Grandfather-father-son retention of stored backups. */
const backupRetentionSchema = v.object({
  schedule: v.string().nonEmpty().optional(),
  keep_last: wholeNumber(1, 100_000).optional(),
  keep_within: duration.optional(),
  keep_hourly: wholeNumber(1, 100_000).optional(),
  keep_daily: wholeNumber(1, 100_000).optional(),
  keep_weekly: wholeNumber(1, 100_000).optional(),
  keep_monthly: wholeNumber(1, 100_000).optional(),
  keep_yearly: wholeNumber(1, 100_000).optional(),
});

/** SLM-style retention of Elasticsearch snapshots. */
const snapshotRetentionSchema = v.object({
  schedule: v.string().nonEmpty().optional(),
  expire_after: duration.optional(),
  min_count: wholeNumber(1, 100_000).optional(),
  max_count: wholeNumber(1, 100_000).optional(),
});

const tlsKeys = {
  ca_file: v.string().nonEmpty().optional(),
  cert_file: v.string().nonEmpty().optional(),
  key_file: v.string().nonEmpty().optional(),
};

const etcdSchema = v.object({
  endpoints: v.list(httpUrl("http://etcd-1:2379")).nonEmpty(),
  username: v.string().nonEmpty().optional(),
  password: v.string().optional(),
  transport: v.oneOf(["auto", "grpc", "gateway"]).optional(),
  request_timeout: duration.optional(),
  ...tlsKeys,
});

const elasticsearchSchema = v.object({
  urls: v.list(httpUrl("http://es-1:9200")).nonEmpty(),
  username: v.string().nonEmpty().optional(),
  password: v.string().optional(),
  api_key: v.string().nonEmpty().optional(),
  bearer_token: v.string().nonEmpty().optional(),
  request_timeout: duration.optional(),
  ...tlsKeys,
  repository: v.object({
    name: v.string().nonEmpty(),
    type: v.string().nonEmpty().optional(),
    settings: v.record(v.union<string | number | boolean>([v.string(), v.number(), v.boolean()]))
      .optional(),
    verify: flag.optional(),
  }),
  snapshot: v.string().nonEmpty().optional(),
  indices: v.list(v.string().nonEmpty()).nonEmpty().optional(),
  ignore_unavailable: flag.optional(),
  include_global_state: flag.optional(),
  partial: flag.optional(),
  feature_states: v.list(v.string()).optional(),
  metadata: v.record(v.unknown()).optional(),
  allow_partial: flag.optional(),
  allow_empty: flag.optional(),
  abort_on_timeout: flag.optional(),
  retention: snapshotRetentionSchema.optional(),
});

/** Leader election through an etcd lease: only the leader of the replicas schedules. */
const haSchema = v.object({
  etcd: v.object({
    endpoints: v.list(httpUrl("http://etcd-1:2379")).nonEmpty(),
    username: v.string().nonEmpty().optional(),
    password: v.string().optional(),
    ...tlsKeys,
  }),
  key: v.string().matches(/^\/\S+$/, 'use an absolute etcd key such as "/snapcron/leader/prod"')
    .optional(),
  identity: v.string().nonEmpty().optional(),
  ttl: duration.optional(),
});

/** Named storages that jobs upload into. */
const storageSchema = v.tagged("type", [
  v.object({
    type: v.literal("s3"),
    bucket: v.string().nonEmpty(),
    prefix: v.string().optional(),
    region: v.string().nonEmpty().optional(),
    endpoint: httpUrl("https://s3.example.com").optional(),
    force_path_style: flag.optional(),
    access_key_id: v.string().nonEmpty().optional(),
    secret_access_key: v.string().nonEmpty().optional(),
    session_token: v.string().nonEmpty().optional(),
    sse: v.oneOf(["AES256", "aws:kms"]).optional(),
    kms_key_id: v.string().nonEmpty().optional(),
    storage_class: v.string().nonEmpty().optional(),
    ca_file: v.string().nonEmpty().optional(),
    checksums: v.oneOf(["when_required", "when_supported"]).optional(),
    part_size: size.optional(),
    concurrency: wholeNumber(1, 64).optional(),
    max_object_size: size.optional(),
    idle_timeout: duration.optional(),
  }),
  v.object({
    type: v.literal("local"),
    path: v.string().nonEmpty(),
  }),
]);

/** Job names end up in URLs, metric labels and object keys: keep them plain. */
export const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Keys of a job; the job kind keys are listed in {@linkcode JOB_KINDS}. */
export const jobSchema = v.object({
  schedule: v.string().nonEmpty(),
  timezone: v.string().nonEmpty().optional(),
  command: v.list(scalarString).nonEmpty().optional(),
  shell: v.string().nonEmpty().optional(),
  env: v.record(scalarString).optional(),
  workdir: v.string().nonEmpty().optional(),
  timeout: duration.optional(),
  kill_grace: duration.optional(),
  retries: wholeNumber(0, 100).optional(),
  retry_backoff: duration.optional(),
  overlap: v.oneOf(["skip", "allow", "replace"]).optional(),
  group: v.string().matches(
    JOB_NAME,
    'use 1 to 63 letters, digits, "-", "_" or "." starting with a letter or digit',
  ).optional(),
  jitter: duration.optional(),
  run_on_start: flag.optional(),
  starting_deadline: duration.optional(),
  alert_if_no_success_within: duration.optional(),
  ping_url: httpUrl("https://hc-ping.com/UUID", true).optional(),
  webhook_url: httpUrl("https://hooks.example.com/snapcron", true).optional(),
  webhook_on: v.oneOf(["failure", "always"]).optional(),
  etcd: etcdSchema.optional(),
  elasticsearch: elasticsearchSchema.optional(),
  upload: uploadSchema.optional(),
  retention: backupRetentionSchema.optional(),
  stale_uploads_after: duration.optional(),
});

/** The keys that choose a job's kind; a job has exactly one. */
export const JOB_KINDS = ["command", "shell", "etcd", "elasticsearch"] as const;

const statusSchema = v.object({
  listen: scalarString.optional(),
  token: v.string().optional(),
  protect_reads: flag.optional(),
  history: wholeNumber(1, 1000).optional(),
  state_file: v.string().nonEmpty().optional(),
});

const dogstatsdSchema = v.object({
  host: v.string().nonEmpty().optional(),
  port: wholeNumber(1, 65535).optional(),
  prefix: v.string().optional(),
  tags: v.list(scalarString).optional(),
});

const logSchema = v.object({
  format: v.oneOf(["text", "json"]).optional(),
  level: v.oneOf(["debug", "info", "warn", "error"]).optional(),
});

/** The whole file. */
export const configSchema = v.object({
  status: statusSchema.optional(),
  log: logSchema.optional(),
  shutdown_grace: duration.optional(),
  dogstatsd: dogstatsdSchema.optional(),
  storage: v.record(storageSchema).optional(),
  ha: haSchema.optional(),
  jobs: v.record(jobSchema),
});

/** The file's shape after validation, before it becomes a {@linkcode Config}. */
export type RawConfig = v.Output<typeof configSchema>;
/** One job's keys after validation. */
export type RawJob = v.Output<typeof jobSchema>;
/** A job's `etcd` section after validation (durations in ms). */
export type EtcdSection = NonNullable<RawJob["etcd"]>;
/** A job's `elasticsearch` section after validation (durations in ms). */
export type ElasticsearchSection = NonNullable<RawJob["elasticsearch"]>;
/** A job's `retention` section for stored backups (durations in ms). */
export type BackupRetentionSection = NonNullable<RawJob["retention"]>;
/** SLM-style `elasticsearch.retention` (durations in ms). */
export type SnapshotRetentionSection = NonNullable<ElasticsearchSection["retention"]>;
/** The `ha` section after validation (durations in ms). */
export type HaSection = NonNullable<RawConfig["ha"]>;
/** One entry of `storage` after validation (sizes in bytes). */
export type StorageSection = NonNullable<RawConfig["storage"]>[string];
