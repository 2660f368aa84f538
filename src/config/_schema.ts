import { z } from "zod";
import { parseDuration } from "./_duration.ts";

/** Adds an issue from a thrown error's message and yields NEVER, for transforms. */
function fail(ctx: z.RefinementCtx, error: unknown): never {
  ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
  return z.NEVER as never;
}

const duration = z.union([z.string(), z.literal(0)]).transform((value, ctx) => {
  try {
    return parseDuration(String(value));
  } catch (error) {
    return fail(ctx, error);
  }
});

/** Whole numbers, also as strings so that `${RETRIES:-3}` works. */
function wholeNumber(min: number, max: number) {
  return z.union([z.number(), z.string().regex(/^\s*-?\d+\s*$/, "expected a whole number")])
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

const flag = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);

const scalarString = z.union([z.string(), z.number(), z.boolean()]).transform(String);

const httpUrl = z.string().transform((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(
      ctx,
      new TypeError(`invalid URL "${value}": write it in full, e.g. "https://hc-ping.com/UUID"`),
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return fail(ctx, new TypeError(`invalid URL "${value}": use http:// or https://`));
  }
  return value.replace(/\/+$/, "");
});

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
  group: z.string().regex(JOB_NAME, 'use letters, digits, "-", "_" and "."').optional(),
  jitter: duration.optional(),
  run_on_start: flag.optional(),
  starting_deadline: duration.optional(),
  alert_if_no_success_within: duration.optional(),
  ping_url: httpUrl.optional(),
  webhook_url: httpUrl.optional(),
  webhook_on: z.enum(["failure", "always"]).optional(),
});

/** The keys that choose a job's kind; a job has exactly one. */
export const JOB_KINDS = ["command", "shell"] as const;

const statusSchema = z.strictObject({
  listen: scalarString.optional(),
  token: z.string().optional(),
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
  jobs: z.record(z.string(), jobSchema),
});

/** The file's shape after validation, before it becomes a {@linkcode Config}. */
export type RawConfig = z.output<typeof configSchema>;
/** One job's keys after validation. */
export type RawJob = z.output<typeof jobSchema>;

/** Known keys at a path, for "did you mean" hints. */
export function knownKeys(path: readonly PropertyKey[]): string[] {
  if (path.length === 0) return Object.keys(configSchema.shape);
  if (path.length === 1 && path[0] === "status") return Object.keys(statusSchema.shape);
  if (path.length === 1 && path[0] === "log") return Object.keys(logSchema.shape);
  if (path.length === 1 && path[0] === "dogstatsd") return Object.keys(dogstatsdSchema.shape);
  if (path.length === 2 && path[0] === "jobs") return Object.keys(jobSchema.shape);
  return [];
}
