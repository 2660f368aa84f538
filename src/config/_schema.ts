import { z } from "zod";
import { parseDuration, parseSize } from "./_duration.ts";

/** Adds an issue from a thrown error's message and yields NEVER, for transforms. */
function fail(ctx: z.RefinementCtx, error: unknown): never {
  ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
  return z.NEVER as never;
}

// A bare number is accepted here so that `30` gets the duration message ("use a unit"), not a
// type error.
const duration = z.union([z.string(), z.number()], {
  error: 'expected a duration such as "30s"',
}).transform((value, ctx) => {
  try {
    return parseDuration(String(value));
  } catch (error) {
    return fail(ctx, error);
  }
});

/** Whole numbers, also as strings so that `${RETRIES:-3}` works. */
function wholeNumber(min: number, max: number) {
  return z.union([z.number(), z.string().regex(/^\s*-?\d+\s*$/, "expected a whole number")], {
    error: "expected a whole number",
  })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

const flag = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")], {
  error: "expected true or false",
});

const scalarString = z.union([z.string(), z.number(), z.boolean()], {
  error: "expected a string, number or boolean",
}).transform(String);

/**
 * An http(s) URL; `example` shows the fix. A `secret` URL (pings, webhooks) is never echoed,
 * and the password part of any other is masked.
 */
function httpUrl(example: string, secret = false) {
  return z.string().transform((value, ctx) => {
    const shown = secret
      ? "(not shown: it may hold a secret)"
      : `"${value.replace(/(\/\/[^:/?#@\s]*:)[^@/?#\s]+@/, "$1***@")}"`;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return fail(ctx, new TypeError(`invalid URL ${shown}: write it in full, e.g. "${example}"`));
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return fail(
        ctx,
        new TypeError(`invalid URL ${shown}: use http:// or https://, e.g. "${example}"`),
      );
    }
    return value.replace(/\/+$/, "");
  });
}

const size = z.union([z.number().int().positive(), z.string()], {
  error: 'expected a size such as "16MiB"',
}).transform((value, ctx) => {
  try {
    return parseSize(String(value));
  } catch (error) {
    return fail(ctx, error);
  }
});

/** Where a job's output or snapshot bytes go, and how they are packed. */
const uploadSchema = z.strictObject({
  storage: z.string().min(1),
  key: z.string().min(1).optional(),
  compress: z.enum(["gzip", "none"]).optional(),
});

/** Grandfather-father-son retention of stored backups. */
const backupRetentionSchema = z.strictObject({
  schedule: z.string().min(1).optional(),
  keep_last: wholeNumber(1, 100_000).optional(),
  keep_within: duration.optional(),
  keep_hourly: wholeNumber(1, 100_000).optional(),
  keep_daily: wholeNumber(1, 100_000).optional(),
  keep_weekly: wholeNumber(1, 100_000).optional(),
  keep_monthly: wholeNumber(1, 100_000).optional(),
  keep_yearly: wholeNumber(1, 100_000).optional(),
});

/** SLM-style retention of Elasticsearch snapshots. */
const snapshotRetentionSchema = z.strictObject({
  schedule: z.string().min(1).optional(),
  expire_after: duration.optional(),
  min_count: wholeNumber(1, 100_000).optional(),
  max_count: wholeNumber(1, 100_000).optional(),
});

const tlsKeys = {
  ca_file: z.string().min(1).optional(),
  cert_file: z.string().min(1).optional(),
  key_file: z.string().min(1).optional(),
};

const etcdSchema = z.strictObject({
  endpoints: z.array(httpUrl("http://etcd-1:2379")).min(1),
  username: z.string().min(1).optional(),
  password: z.string().optional(),
  transport: z.enum(["auto", "grpc", "gateway"]).optional(),
  request_timeout: duration.optional(),
  ...tlsKeys,
});

const elasticsearchSchema = z.strictObject({
  urls: z.array(httpUrl("http://es-1:9200")).min(1),
  username: z.string().min(1).optional(),
  password: z.string().optional(),
  api_key: z.string().min(1).optional(),
  bearer_token: z.string().min(1).optional(),
  request_timeout: duration.optional(),
  ...tlsKeys,
  repository: z.strictObject({
    name: z.string().min(1),
    type: z.string().min(1).optional(),
    settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    verify: flag.optional(),
  }),
  snapshot: z.string().min(1).optional(),
  indices: z.array(z.string().min(1)).min(1).optional(),
  ignore_unavailable: flag.optional(),
  include_global_state: flag.optional(),
  partial: flag.optional(),
  feature_states: z.array(z.string()).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  allow_partial: flag.optional(),
  allow_empty: flag.optional(),
  abort_on_timeout: flag.optional(),
  retention: snapshotRetentionSchema.optional(),
});

/** Leader election through an etcd lease: only the leader of the replicas schedules. */
const haSchema = z.strictObject({
  etcd: z.strictObject({
    endpoints: z.array(httpUrl("http://etcd-1:2379")).min(1),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    ...tlsKeys,
  }),
  key: z.string().regex(/^\/\S+$/, 'use an absolute etcd key such as "/snapcron/leader/prod"')
    .optional(),
  identity: z.string().min(1).optional(),
  ttl: duration.optional(),
});

/** Named storages that jobs upload into. */
const storageSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("s3"),
    bucket: z.string().min(1),
    prefix: z.string().optional(),
    region: z.string().min(1).optional(),
    endpoint: httpUrl("https://s3.example.com").optional(),
    force_path_style: flag.optional(),
    access_key_id: z.string().min(1).optional(),
    secret_access_key: z.string().min(1).optional(),
    session_token: z.string().min(1).optional(),
    sse: z.enum(["AES256", "aws:kms"]).optional(),
    kms_key_id: z.string().min(1).optional(),
    storage_class: z.string().min(1).optional(),
    ca_file: z.string().min(1).optional(),
    checksums: z.enum(["when_required", "when_supported"]).optional(),
    part_size: size.optional(),
    concurrency: wholeNumber(1, 64).optional(),
    max_object_size: size.optional(),
    idle_timeout: duration.optional(),
  }),
  z.strictObject({
    type: z.literal("local"),
    path: z.string().min(1),
  }),
]);

/** Job names end up in URLs, metric labels and object keys: keep them plain. */
export const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Keys of a job; the job kind keys are listed in {@linkcode JOB_KINDS}. */
export const jobSchema = z.strictObject({
  schedule: z.string().min(1),
  timezone: z.string().min(1).optional(),
  command: z.array(scalarString).min(1).optional(),
  shell: z.string().min(1).optional(),
  env: z.record(z.string(), scalarString).optional(),
  workdir: z.string().min(1).optional(),
  timeout: duration.optional(),
  kill_grace: duration.optional(),
  retries: wholeNumber(0, 100).optional(),
  retry_backoff: duration.optional(),
  overlap: z.enum(["skip", "allow", "replace"]).optional(),
  group: z.string().regex(
    JOB_NAME,
    'use 1 to 63 letters, digits, "-", "_" or "." starting with a letter or digit',
  ).optional(),
  jitter: duration.optional(),
  run_on_start: flag.optional(),
  starting_deadline: duration.optional(),
  alert_if_no_success_within: duration.optional(),
  ping_url: httpUrl("https://hc-ping.com/UUID", true).optional(),
  webhook_url: httpUrl("https://hooks.example.com/snapcron", true).optional(),
  webhook_on: z.enum(["failure", "always"]).optional(),
  etcd: etcdSchema.optional(),
  elasticsearch: elasticsearchSchema.optional(),
  upload: uploadSchema.optional(),
  retention: backupRetentionSchema.optional(),
  stale_uploads_after: duration.optional(),
});

/** The keys that choose a job's kind; a job has exactly one. */
export const JOB_KINDS = ["command", "shell", "etcd", "elasticsearch"] as const;

const statusSchema = z.strictObject({
  listen: scalarString.optional(),
  token: z.string().optional(),
  protect_reads: flag.optional(),
  history: wholeNumber(1, 1000).optional(),
  state_file: z.string().min(1).optional(),
});

const dogstatsdSchema = z.strictObject({
  host: z.string().min(1).optional(),
  port: wholeNumber(1, 65535).optional(),
  prefix: z.string().optional(),
  tags: z.array(scalarString).optional(),
});

const logSchema = z.strictObject({
  format: z.enum(["text", "json"]).optional(),
  level: z.enum(["debug", "info", "warn", "error"]).optional(),
});

/** The whole file. */
export const configSchema = z.strictObject({
  status: statusSchema.optional(),
  log: logSchema.optional(),
  shutdown_grace: duration.optional(),
  dogstatsd: dogstatsdSchema.optional(),
  storage: z.record(z.string(), storageSchema).optional(),
  ha: haSchema.optional(),
  jobs: z.record(z.string(), jobSchema),
});

/** The file's shape after validation, before it becomes a {@linkcode Config}. */
export type RawConfig = z.output<typeof configSchema>;
/** One job's keys after validation. */
export type RawJob = z.output<typeof jobSchema>;
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

/** Known keys at a path, for "did you mean" hints. */
export function knownKeys(path: readonly PropertyKey[]): string[] {
  if (path.length === 0) return Object.keys(configSchema.shape);
  if (path.length === 1 && path[0] === "status") return Object.keys(statusSchema.shape);
  if (path.length === 1 && path[0] === "log") return Object.keys(logSchema.shape);
  if (path.length === 1 && path[0] === "ha") return Object.keys(haSchema.shape);
  if (path.length === 2 && path[0] === "ha" && path[1] === "etcd") {
    return Object.keys(haSchema.shape.etcd.shape);
  }
  if (path.length === 1 && path[0] === "dogstatsd") return Object.keys(dogstatsdSchema.shape);
  if (path.length === 2 && path[0] === "jobs") return Object.keys(jobSchema.shape);
  if (path.length === 3 && path[0] === "jobs") {
    const section = { etcd: etcdSchema, elasticsearch: elasticsearchSchema, upload: uploadSchema }[
      String(path[2]) as "etcd"
    ];
    if (section) return Object.keys(section.shape);
    if (path[2] === "retention") return Object.keys(backupRetentionSchema.shape);
  }
  if (path.length === 4 && path[0] === "jobs" && path[2] === "elasticsearch") {
    if (path[3] === "retention") return Object.keys(snapshotRetentionSchema.shape);
    if (path[3] === "repository") return ["name", "type", "settings", "verify"];
  }
  if (path.length === 2 && path[0] === "storage") {
    return [
      ...new Set(storageSchema.options.flatMap((option) => Object.keys(option.shape))),
    ];
  }
  return [];
}

/** The values a discriminator key (a storage's `type`) accepts, for error messages. */
export function discriminatorValues(path: readonly PropertyKey[]): string[] {
  if (path.length === 3 && path[0] === "storage" && path[2] === "type") {
    return storageSchema.options.map((option) => option.shape.type.value);
  }
  return [];
}
