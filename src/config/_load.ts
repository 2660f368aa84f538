import {
  type Document,
  isMap,
  isPair,
  isScalar,
  LineCounter,
  parseDocument,
  visit,
  type YAMLError,
} from "./_yaml.ts";
import { createRedactor } from "../log/mod.ts";
import { snapshotName } from "../jobs/mod.ts";
import {
  backupPolicyFromKeys,
  checkBackupPolicy,
  checkSnapshotPolicy,
  snapshotPolicyFromKeys,
} from "../retention/mod.ts";
import type { OverlapPolicy } from "../runner/mod.ts";
import { isTimeZone, parseSchedule, type Schedule } from "../schedule/mod.ts";
import { ConfigError, type ConfigIssue } from "./_errors.ts";
import { EnvExpansionError, expandEnv } from "./_env.ts";
import {
  type BackupRetentionSection,
  configSchema,
  type ElasticsearchSection,
  type EtcdSection,
  type HaSection,
  JOB_KINDS,
  JOB_NAME,
  type RawConfig,
  type StorageSection,
} from "./_schema.ts";
import { checkShape, type Path, type ShapeIssue } from "./_shape.ts";

/** Where the status server listens; `port: 0` in the file disables it. */
export interface StatusConfig {
  enabled: boolean;
  hostname: string;
  port: number;
  token?: string;
  /** The token is needed for reads too (all but `/healthz`). */
  protectReads: boolean;
  /** Finished runs kept per job. */
  history: number;
  /** Where runs are kept across restarts. */
  stateFile?: string;
}

/** Leader election settings, defaults filled in. */
export interface HaConfig {
  etcd: HaSection["etcd"];
  key: string;
  identity: string;
  ttlSeconds: number;
}

/** Where DogStatsD metrics go. */
export interface DogStatsDConfig {
  host: string;
  port: number;
  prefix: string;
  tags: string[];
}

/** Where a job's bytes go: a named storage, the key template and packing. */
export interface UploadConfig {
  storage: string;
  /** Template with `{job}`, `{time}` (20260131T020000Z), `{date}` (2026-01-31) and `{run}`. */
  key: string;
  compress: "gzip" | "none";
}

/** The placeholders a key template may use. */
export const KEY_PLACEHOLDERS = ["job", "time", "date", "run"] as const;

/** One job, validated and with every default filled in. */
export interface JobConfig {
  name: string;
  /** `retention`: a job of its own that prunes `retentionOf`'s backups on `retention.schedule`. */
  kind: "command" | "etcd" | "elasticsearch" | "retention";
  /** For `kind: "retention"`: the job whose backups it prunes. */
  retentionOf?: string;
  schedule: Schedule;
  command?: string[];
  shell?: string;
  env?: Record<string, string>;
  workdir?: string;
  timeoutMs?: number;
  killGraceMs: number;
  retries: number;
  retryBackoffMs: number;
  overlap: OverlapPolicy;
  group?: string;
  jitterMs: number;
  runOnStart: boolean;
  /** A run later than this after its slot is skipped; unset means a late run always starts once. */
  startingDeadlineMs?: number;
  /** The job is stale (status 503) when no run succeeded within this window. */
  staleAfterMs?: number;
  /** Healthchecks.io-style ping URL: /start, success, /<exit status>. */
  pingUrl?: string;
  /** Generic JSON webhook, called on failures (or every run with `webhookOn: "always"`). */
  webhookUrl?: string;
  webhookOn: "failure" | "always";
  etcd?: EtcdSection;
  elasticsearch?: ElasticsearchSection;
  upload?: UploadConfig;
  retention?: BackupRetentionSection;
  /** Multipart uploads (or temporary files) under the job's prefix older than this are removed. */
  staleUploadsAfterMs: number;
}

/** A loaded configuration. */
export interface Config {
  file: string;
  status: StatusConfig;
  log: { format: "text" | "json"; level: "debug" | "info" | "warn" | "error" };
  shutdownGraceMs: number;
  dogstatsd?: DogStatsDConfig;
  /** Replicas elect a leader through an etcd lease; only the leader schedules. */
  ha?: HaConfig;
  /** Named storages, by name. */
  storage: Record<string, StorageSection>;
  jobs: JobConfig[];
  /** Values of secret-looking keys, tokens and notification URLs: never shown anywhere. */
  secrets: string[];
}

/** Options of {@linkcode parseConfig} and {@linkcode loadConfig}. */
export interface ParseConfigOptions {
  /** Reads environment variables for `${VAR}`; defaults to `Deno.env.get`. */
  env?: (name: string) => string | undefined;
}

/** Listen address used when the file says nothing. */
export const DEFAULT_LISTEN = ":18080";

const SECRET_KEY = /pass|token|secret|credential|api_?key|ping_url|webhook_url/i;

/** Reads and validates a config file. Throws {@linkcode ConfigError} naming file, line and column. */
export async function loadConfig(file: string, options: ParseConfigOptions = {}): Promise<Config> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "file not found: pass --config FILE or set SNAPCRON_CONFIG"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied: make the file readable for this user"
      : error instanceof Deno.errors.IsADirectory
      ? "is a directory: pass the path of a YAML file"
      : `cannot read it: ${error instanceof Error ? error.message : error}`;
    throw new ConfigError(file, [{ path: "", message: reason }], { cause: error });
  }
  let text: string;
  try {
    // Strict: a Latin-1 "é" must not turn silently into U+FFFD inside a command or password.
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    const offset = firstInvalidByte(bytes);
    const before = new TextDecoder().decode(bytes.subarray(0, offset));
    const lineStart = before.lastIndexOf("\n") + 1;
    const byte = bytes[offset]?.toString(16).toUpperCase().padStart(2, "0") ?? "";
    throw new ConfigError(file, [{
      path: "",
      line: before.split("\n").length,
      column: before.length - lineStart + 1,
      message: `invalid UTF-8 byte 0x${byte}: save the file as UTF-8`,
    }], { cause: error });
  }
  return parseConfig(text, file, options);
}

/** Offset where the first byte sequence that is not UTF-8 starts. */
function firstInvalidByte(bytes: Uint8Array): number {
  const fails = (length: number, stream: boolean) => {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, length), { stream });
      return false;
    } catch {
      return true;
    }
  };
  // A streaming decode accepts a prefix that ends inside a character, so failure is monotonic:
  // find the byte at which decoding fails, then step back to the lead byte of its sequence.
  let low = 0;
  let high = bytes.length;
  if (fails(high, true)) {
    while (high - low > 1) {
      const middle = (low + high) >> 1;
      if (fails(middle, true)) high = middle;
      else low = middle;
    }
  }
  let start = high - 1;
  while (start > 0 && start > high - 4 && fails(start, false)) start--;
  return Math.max(start, 0);
}

/** Validates config text; `file` names it in errors. */
export function parseConfig(text: string, file: string, options: ParseConfigOptions = {}): Config {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number | undefined) => {
    if (offset === undefined) return {};
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length > 0) {
    // Later syntax errors are mostly echoes of the first (one tab-indented block gives one per
    // line, one unquoted "{" a dozen), so only the first is shown.
    const error = doc.errors[0]!;
    const { offset, message } = yamlProblem(error, text, doc);
    throw new ConfigError(file, [{
      path: "",
      ...position(offset),
      message: `invalid YAML: ${message}`,
    }]);
  }
  if (doc.contents === null) {
    throw new ConfigError(file, [{ path: "", message: 'the file is empty: add a "jobs" section' }]);
  }

  const issues: ConfigIssue[] = [];
  // A value from a variable named like a secret is one, wherever it is used (`-p${DB_PASSWORD}`).
  const secrets: string[] = [];
  const onUse = (name: string, value: string) => {
    if (SECRET_KEY.test(name) && value !== "") secrets.push(value);
  };
  visit(doc, {
    Pair(_key, pair, path) {
      if (!isScalar(pair.value) || typeof pair.value.value !== "string") return;
      const keyName = isScalar(pair.key) ? String(pair.key.value) : "";
      try {
        pair.value.value = expandEnv(pair.value.value, env, onUse);
      } catch (error) {
        if (!(error instanceof EnvExpansionError)) throw error;
        issues.push({
          path: pathOf(path, keyName),
          ...position(pair.value.range?.[0]),
          message: error.message,
        });
      }
    },
    Seq(_key, seq, path) {
      // Items are named by index under the key that holds the list: `jobs.a.command.1`.
      const parent = path.at(-1);
      const listPath = isPair(parent) && isScalar(parent.key)
        ? `${pathOf(path.slice(0, -1), String(parent.key.value))}.`
        : "";
      for (const [index, item] of seq.items.entries()) {
        if (!isScalar(item) || typeof item.value !== "string") continue;
        try {
          item.value = expandEnv(item.value, env, onUse);
        } catch (error) {
          if (!(error instanceof EnvExpansionError)) throw error;
          issues.push({
            path: `${listPath}${index}`,
            ...position(item.range?.[0]),
            message: error.message,
          });
        }
      }
    },
  });
  if (issues.length > 0) throw new ConfigError(file, issues);

  let firstAlias: number | undefined;
  visit(doc, {
    Alias(_key, alias) {
      firstAlias ??= alias.range?.[0];
      if (alias.resolve(doc) === undefined) {
        issues.push({
          path: "",
          ...position(alias.range?.[0]),
          message:
            `unknown alias "*${alias.source}": define the anchor "&${alias.source}" before it`,
        });
      }
    },
  });
  if (issues.length > 0) throw new ConfigError(file, issues);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    throw new ConfigError(file, [{
      path: "",
      ...position(firstAlias),
      message: 'aliases expand to too much data: repeat fewer "*" aliases',
    }], { cause: error });
  }
  // The value of a secret-looking key is described by its type only, never shown.
  const got = (value: unknown, path: Path) =>
    describe(value, SECRET_KEY.test(String(path.findLast((p) => typeof p === "string") ?? "")));
  const result = checkShape(configSchema, data, got);
  if (!result.ok) {
    // A secret that lands in a message (a password under a misspelt key) is masked there too.
    const redact = createRedactor([...secrets, ...collectSecrets(data)]);
    const mapped = result.issues.map((issue) => {
      const located = locateIssue(issue, doc, position);
      return { ...located, message: redact(located.message) };
    });
    // `shedule:` gives both "unknown key shedule" and "missing schedule": keep only the typo.
    const typos = new Set(
      mapped.flatMap((issue) => {
        const hint = /\(did you mean "([^"]+)"\?\)/.exec(issue.message)?.[1];
        return hint ? [`${issue.path ? issue.path + "." : ""}${hint}`] : [];
      }),
    );
    throw new ConfigError(
      file,
      mapped.filter((issue) =>
        !(issue.message.startsWith("missing required key") && typos.has(issue.path))
      ),
    );
  }
  const locate = (path: PropertyKey[], at: "key" | "value") =>
    position(at === "key" ? keyNodeAt(doc, path)?.range?.[0] : nodeAt(doc, path)?.range?.[0]);
  return buildConfig(result.value, file, env, [...secrets, ...collectSecrets(data)], locate);
}

function buildConfig(
  raw: RawConfig,
  file: string,
  env: (name: string) => string | undefined,
  secrets: string[],
  locate: (path: PropertyKey[], at: "key" | "value") => { line?: number; column?: number },
): Config {
  const issues: ConfigIssue[] = [];
  const redact = createRedactor(secrets);
  // A problem with a whole section points at its key; a problem with a value, at the value.
  const issue = (path: PropertyKey[], message: string, at: "key" | "value" = "value") =>
    issues.push({ path: path.join("."), ...locate(path, at), message: redact(message) });

  let status: StatusConfig = {
    enabled: true,
    hostname: "0.0.0.0",
    port: 18080,
    history: 20,
    protectReads: false,
  };
  try {
    status = {
      ...parseListen(raw.status?.listen ?? DEFAULT_LISTEN),
      history: raw.status?.history ?? 20,
      protectReads: raw.status?.protect_reads ?? false,
    };
  } catch (error) {
    issue(["status", "listen"], (error as Error).message);
  }
  if (raw.status?.token) status.token = raw.status.token;
  if (status.protectReads && !status.token) {
    issue(["status", "protect_reads"], 'protect_reads needs "status.token": set a token', "key");
  }
  if (raw.status?.state_file) status.stateFile = raw.status.state_file;

  const defaultZone = env("TZ") && isTimeZone(env("TZ")!) ? env("TZ")! : "UTC";
  const jobs: JobConfig[] = [];
  const names = Object.keys(raw.jobs);
  if (names.length === 0) issue(["jobs"], 'no jobs: add at least one job under "jobs"', "key");
  for (const [name, job] of Object.entries(raw.jobs)) {
    const at = ["jobs", name];
    if (!JOB_NAME.test(name)) {
      issue(
        at,
        `invalid job name "${name}": use 1 to 63 letters, digits, "-", "_" or "." starting with a letter or digit`,
        "key",
      );
      continue;
    }
    const kinds = JOB_KINDS.filter((kind) => job[kind] !== undefined);
    if (kinds.length !== 1) {
      issue(
        at,
        `a job needs exactly one of ${JOB_KINDS.map((k) => `"${k}"`).join(", ")}` +
          (kinds.length === 0
            ? ": add one"
            : `, found ${kinds.map((k) => `"${k}"`).join(" and ")}`),
        "key",
      );
      continue;
    }
    const timezone = job.timezone ?? defaultZone;
    if (job.timezone !== undefined && !isTimeZone(job.timezone)) {
      issue(
        [...at, "timezone"],
        `unknown time zone "${job.timezone}": use an IANA name such as "Europe/Berlin" or "UTC"`,
      );
      continue;
    }
    let schedule: Schedule;
    try {
      schedule = parseSchedule(job.schedule, { timezone });
    } catch (error) {
      issue([...at, "schedule"], (error as Error).message);
      continue;
    }
    const kind = kinds[0] === "shell" ? "command" : kinds[0]!;
    const storages = raw.storage ?? {};
    let upload: UploadConfig | undefined;
    if (job.upload) {
      upload = {
        storage: job.upload.storage,
        key: job.upload.key ?? defaultKey(kind, job.upload.compress ?? defaultCompress(kind)),
        compress: job.upload.compress ?? defaultCompress(kind),
      };
      if (!(job.upload.storage in storages)) {
        const known = Object.keys(storages);
        issue(
          [...at, "upload", "storage"],
          `no storage named "${job.upload.storage}": ` +
            (known.length > 0
              ? `define it under "storage" or use one of ${known.map((n) => `"${n}"`).join(", ")}`
              : `define it under "storage", e.g. storage: { ${job.upload.storage}: { type: local, path: /var/backups } }`),
        );
      }
      const keyProblem = checkKeyTemplate(upload.key);
      if (keyProblem) issue([...at, "upload", "key"], keyProblem);
    }
    if (job.etcd && (job.etcd.username === undefined) !== (job.etcd.password === undefined)) {
      issue(
        [...at, "etcd", job.etcd.username === undefined ? "password" : "username"],
        '"username" and "password" go together: give both, or neither for a cluster without auth',
        "key",
      );
    }
    if (kind === "etcd" && !upload) {
      issue(
        [...at, "etcd"],
        'an etcd job needs "upload": { storage: NAME } to say where snapshots go',
        "key",
      );
    }
    if (kind === "elasticsearch" && (job.upload || job.retention)) {
      issue(
        [...at, job.upload ? "upload" : "retention"],
        'Elasticsearch snapshots stay in their repository: remove it, and put retention under "elasticsearch.retention"',
        "key",
      );
    }
    if (job.elasticsearch) {
      try {
        snapshotName(job.elasticsearch, name, new Date());
      } catch (error) {
        issue([...at, "elasticsearch", "snapshot"], (error as Error).message);
      }
      const retention = job.elasticsearch.retention;
      if (retention) {
        try {
          checkSnapshotPolicy(snapshotPolicyFromKeys(retention));
        } catch (error) {
          issue([...at, "elasticsearch", "retention"], (error as Error).message, "key");
        }
      }
    }
    if (job.retention) {
      try {
        checkBackupPolicy(backupPolicyFromKeys(job.retention));
      } catch (error) {
        issue([...at, "retention"], (error as Error).message, "key");
      }
    }
    if (job.retention && !job.upload && kind !== "elasticsearch") {
      issue([...at, "retention"], 'retention needs "upload": it prunes the stored backups', "key");
    }
    const built: JobConfig = {
      name,
      kind,
      staleUploadsAfterMs: job.stale_uploads_after ?? 86_400_000,
      schedule,
      killGraceMs: job.kill_grace ?? 10_000,
      retries: job.retries ?? 0,
      retryBackoffMs: job.retry_backoff ?? 10_000,
      overlap: job.overlap ?? "skip",
      jitterMs: job.jitter ?? 0,
      runOnStart: job.run_on_start ?? false,
      webhookOn: job.webhook_on ?? "failure",
    };
    if (job.command) built.command = job.command;
    if (job.shell !== undefined) built.shell = job.shell;
    if (job.env) built.env = job.env;
    if (job.workdir) built.workdir = job.workdir;
    if (job.timeout !== undefined) {
      if (job.timeout === 0) {
        issue([...at, "timeout"], 'timeout must be more than 0: remove it for "no timeout"');
      }
      built.timeoutMs = job.timeout;
    }
    if (job.group) built.group = job.group;
    if (job.starting_deadline !== undefined) built.startingDeadlineMs = job.starting_deadline;
    if (job.alert_if_no_success_within !== undefined) {
      built.staleAfterMs = job.alert_if_no_success_within;
    }
    if (job.ping_url) built.pingUrl = job.ping_url;
    if (job.etcd) built.etcd = job.etcd;
    if (job.elasticsearch) built.elasticsearch = job.elasticsearch;
    if (upload) built.upload = upload;
    if (job.retention) built.retention = job.retention;
    if (job.webhook_url) built.webhookUrl = job.webhook_url;
    jobs.push(built);
    const retentionSchedule = job.retention?.schedule ?? job.elasticsearch?.retention?.schedule;
    if (retentionSchedule !== undefined) {
      const where = job.retention
        ? [...at, "retention", "schedule"]
        : [...at, "elasticsearch", "retention", "schedule"];
      const pruneName = `${name}.retention`;
      if (pruneName in raw.jobs) {
        issue(
          where,
          `retention on its own schedule runs as job "${pruneName}", which the config already has: rename that job`,
        );
        continue;
      }
      try {
        const pruneSchedule = parseSchedule(retentionSchedule, { timezone });
        // The backup and its pruning share a group, so retention never runs during a backup.
        built.group ??= name;
        const { pingUrl: _ping, webhookUrl: _hook, staleAfterMs: _stale, ...rest } = built;
        jobs.push({
          ...rest,
          name: pruneName,
          kind: "retention",
          retentionOf: name,
          schedule: pruneSchedule,
          retries: 0,
          jitterMs: 0,
          runOnStart: false,
        });
      } catch (error) {
        issue(where, (error as Error).message);
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(file, issues);
  const config: Config = {
    file,
    status,
    log: { format: raw.log?.format ?? "text", level: raw.log?.level ?? "info" },
    shutdownGraceMs: raw.shutdown_grace ?? 30_000,
    storage: raw.storage ?? {},
    jobs,
    secrets,
  };
  if (raw.ha) {
    const ttl = raw.ha.ttl ?? 15_000;
    if (ttl < 2000 || ttl % 1000 !== 0) {
      issue(["ha", "ttl"], `ttl must be whole seconds, at least 2s, got ${ttl} ms`);
    } else {
      config.ha = {
        etcd: raw.ha.etcd,
        key: raw.ha.key ?? "/snapcron/leader/default",
        identity: raw.ha.identity ?? `${hostname()}/${Deno.pid}`,
        ttlSeconds: ttl / 1000,
      };
    }
    if ((raw.ha.etcd.username === undefined) !== (raw.ha.etcd.password === undefined)) {
      issue(["ha", "etcd"], '"username" and "password" go together: give both, or neither', "key");
    }
    if (issues.length > 0) throw new ConfigError(file, issues);
  }
  if (raw.dogstatsd) {
    config.dogstatsd = {
      host: raw.dogstatsd.host ?? "127.0.0.1",
      port: raw.dogstatsd.port ?? 8125,
      prefix: raw.dogstatsd.prefix ?? "snapcron.",
      tags: raw.dogstatsd.tags ?? [],
    };
  }
  return config;
}

function defaultCompress(kind: JobConfig["kind"]): "gzip" | "none" {
  return kind === "etcd" ? "gzip" : "none";
}

function defaultKey(kind: JobConfig["kind"], compress: "gzip" | "none"): string {
  const ext = (kind === "etcd" ? ".db" : "") + (compress === "gzip" ? ".gz" : "");
  return `{job}/{time}${ext}`;
}

/** Why a key template is unusable, or undefined when it is fine. */
function checkKeyTemplate(template: string): string | undefined {
  const used = [...template.matchAll(/\{([^}]*)\}/g)].map((match) => match[1]!);
  const unknown = used.find((name) => !(KEY_PLACEHOLDERS as readonly string[]).includes(name));
  if (unknown !== undefined) {
    return `unknown placeholder "{${unknown}}" in key "${template}": use ${
      KEY_PLACEHOLDERS.map((p) => `{${p}}`).join(", ")
    }`;
  }
  if (!used.includes("time") && !used.includes("run")) {
    return `key "${template}" has neither {time} nor {run}: every backup would overwrite the last`;
  }
  if (template.startsWith("/") || template.split("/").includes("..")) {
    return `key "${template}" must be relative and must not contain ".."`;
  }
  return undefined;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "snapcron";
  }
}

/** The values of every secret-looking key, wherever it is in the file. */
function collectSecrets(data: unknown, key = ""): string[] {
  if (typeof data === "string") return SECRET_KEY.test(key) && data !== "" ? [data] : [];
  if (Array.isArray(data)) return data.flatMap((item) => collectSecrets(item, key));
  if (data && typeof data === "object") {
    return Object.entries(data).flatMap(([k, v]) => collectSecrets(v, k));
  }
  return [];
}

/** Parses `host:port`, `:port`, `port` or `[v6]:port`; port 0 disables the server. */
export function parseListen(
  text: string,
): Omit<StatusConfig, "history" | "token" | "protectReads"> {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || !(port >= 0 && port <= 65535)) {
    throw new RangeError(
      `invalid listen address "${text}": write "host:port" or ":port" (port 0 disables the status server)`,
    );
  }
  const hostname = match[1] ?? (match[2] || "0.0.0.0");
  return { enabled: port !== 0, hostname, port };
}

function pathOf(path: readonly unknown[], key: string): string {
  const keys: string[] = [];
  for (const node of path) {
    if (isPair(node) && isScalar(node.key)) keys.push(String(node.key.value));
  }
  keys.push(key);
  return keys.join(".");
}

function nodeAt(doc: Document, path: readonly PropertyKey[]) {
  const node = doc.getIn(path as unknown[], true);
  return node && typeof node === "object" && "range" in node
    ? node as { range?: [number, number, number] | null }
    : undefined;
}

function keyNodeAt(doc: Document, path: readonly PropertyKey[]) {
  const parent = doc.getIn(path.slice(0, -1) as unknown[], true);
  if (!isMap(parent)) return undefined;
  const last = String(path.at(-1));
  const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === last);
  return pair && isScalar(pair.key) ? pair.key : undefined;
}

/** An issue with the line and column of the value (or the unknown key) it is about. */
function locateIssue(
  issue: ShapeIssue,
  doc: Document,
  position: (offset: number | undefined) => { line?: number; column?: number },
): ConfigIssue {
  const path = [...issue.path];
  // A missing key has no node: the mapping that lacks it is pointed at.
  const offset = issue.key !== undefined
    ? keyNodeAt(doc, [...path, issue.key])?.range?.[0]
    : (nodeAt(doc, path) ?? nodeAt(doc, path.slice(0, -1)))?.range?.[0];
  return { path: path.join("."), ...position(offset), message: issue.message };
}

function describe(value: unknown, secret = false): string {
  if (value === null || value === undefined) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (secret) return `a ${typeof value} (not shown: the key holds a secret)`;
  if (typeof value === "string") return JSON.stringify(value);
  return `${typeof value} ${String(value)}`;
}

function firstLine(text: string): string {
  return text.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
}

/** A YAML syntax error in words that say what to change, and the offset it is about. */
function yamlProblem(
  error: YAMLError,
  text: string,
  doc: Document,
): { offset: number; message: string } {
  const offset = error.pos[0];
  const char = text[offset] ?? "";
  switch (error.code) {
    case "TAB_AS_INDENT":
      return { offset, message: "a tab is used for indentation: indent with spaces" };
    case "BAD_INDENT": {
      const flow = /^Flow (map|sequence)/.exec(error.message)?.[1];
      if (flow) {
        // Reported where the collection was cut off; the reader needs the bracket that opened it.
        let start: number | undefined;
        visit(doc, {
          Collection(_key, node) {
            const [from, to] = node.range ?? [];
            if (node.flow && isMap(node) === (flow === "map") && to !== undefined && to >= offset) {
              start = from;
            }
          },
        });
        const [open, close] = flow === "map" ? ["{", "}"] : ["[", "]"];
        return {
          offset: start ?? offset,
          message: `the "${open}" opened here does not end with "${close}": ` +
            `add the missing "${close}", or indent the lines inside it more than its key`,
        };
      }
      // The error points at the start of the line; the reader looks for the misplaced key.
      const indent = /^ */.exec(text.slice(offset))![0].length;
      return { offset: offset + indent, message: firstLine(error.message) };
    }
    case "DUPLICATE_KEY": {
      let key = "";
      visit(doc, {
        Pair(_key, pair) {
          if (isScalar(pair.key) && pair.key.range?.[0] === offset) {
            key = String(pair.key.value);
            return visit.BREAK;
          }
          return undefined;
        },
      });
      return {
        offset,
        message: `Map keys must be unique: "${key}" appears twice, rename or remove one`,
      };
    }
    case "MULTIPLE_DOCS":
      return {
        offset,
        message: 'the file holds more than one YAML document: keep one, remove the "---" line',
      };
    case "UNEXPECTED_TOKEN": {
      // Only punctuation is echoed: the text around it may be part of a secret.
      const what = /^[{}[\],:#&*!|>%@`'"]$/.test(char) ? ` "${char}"` : " text";
      return {
        offset,
        message: `unexpected${what} here: put values that contain "{", "}", "[", "]", ",", ": " ` +
          'or " #" in quotes, e.g. "${VAR}"',
      };
    }
    case "BAD_SCALAR_START":
      return {
        offset,
        message: `a value cannot start with "${char}" unless it is quoted: put the value in quotes`,
      };
    case "BAD_DQ_ESCAPE":
      return {
        offset,
        message: `invalid escape "${
          text.slice(offset, offset + 2)
        }" in a double-quoted string: write "\\\\" for a backslash, or use single quotes`,
      };
    case "MISSING_CHAR": {
      if (!/quote/.test(error.message)) break;
      // The error is reported where the file ends; the reader needs the quote that opened.
      let start: number | undefined;
      visit(doc, {
        Scalar(_key, scalar) {
          const [from, to] = scalar.range ?? [];
          if (
            to !== undefined && to >= offset &&
            (scalar.type === "QUOTE_DOUBLE" || scalar.type === "QUOTE_SINGLE")
          ) start = from;
        },
      });
      const quote = start === undefined ? '"' : text[start];
      return {
        offset: start ?? offset,
        message: `the quote ${quote} opened here is never closed: add the closing ${quote}`,
      };
    }
  }
  return { offset, message: firstLine(error.message) };
}
