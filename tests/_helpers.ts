/**
 * Shared plumbing for tests against real servers. `scripts/services.sh up` starts etcd, s3proxy,
 * Elasticsearch and OpenSearch on 127.0.0.1; `eval "$(scripts/services.sh env)"` exports where
 * they are.
 * A test whose servers are not announced is ignored (with the reason in its name) or, under
 * `CI=true`, fails: it never passes without having run.
 */

/** A server a test can ask for. */
export type Service = "etcd" | "s3" | "es";

/** Where the etcd test server listens. */
export interface EtcdTestEnv {
  /** Client URL, e.g. `http://127.0.0.1:12379`; the v3 JSON gateway lives under `/v3/`. */
  url: string;
}

/** How to reach the S3 test server (s3proxy, path-style addressing). */
export interface S3TestEnv {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/** Where the Elasticsearch test node listens and where its `path.repo` is. */
export interface EsTestEnv {
  url: string;
  /** The node's `path.repo`: `fs` repository locations must lie inside it. */
  repoPath: string;
  /** Version of the running node, e.g. `9.5.4`. */
  version: string;
}

/** Connection details of every test server, keyed by service. */
export interface TestEnv {
  etcd: EtcdTestEnv;
  s3: S3TestEnv;
  es: EsTestEnv;
}

/** Options of {@linkcode serviceTest}: which servers the test needs, plus Deno.test knobs. */
export interface ServiceTestOptions<S extends Service> {
  services: readonly S[];
  sanitizeOps?: boolean;
  sanitizeResources?: boolean;
}

/** Result of {@linkcode readTestEnv}: the values, or the names of the missing variables. */
export type TestEnvResult<S extends Service> =
  | { ok: true; env: Pick<TestEnv, S> }
  | { ok: false; missing: string[]; unreadable: boolean };

const VARIABLES = {
  etcd: ["SNAPCRON_TEST_ETCD_URL"],
  s3: [
    "SNAPCRON_TEST_S3_ENDPOINT",
    "SNAPCRON_TEST_S3_ACCESS_KEY",
    "SNAPCRON_TEST_S3_SECRET_KEY",
    "SNAPCRON_TEST_S3_REGION",
  ],
  es: ["SNAPCRON_TEST_ES_URL", "SNAPCRON_TEST_ES_REPO_PATH", "SNAPCRON_TEST_ES_VERSION"],
} as const satisfies Record<Service, readonly string[]>;

const HINT = `run "scripts/services.sh up" then eval "$(scripts/services.sh env)"`;

function canRead(name: string): boolean {
  return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
}

function readVariable(name: string): string | undefined {
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? undefined : value;
}

function buildEnv(values: Map<string, string>): Partial<TestEnv> {
  const get = (name: string): string => values.get(name) ?? "";
  const env: Partial<TestEnv> = {};
  if (values.has("SNAPCRON_TEST_ETCD_URL")) {
    env.etcd = { url: stripSlash(get("SNAPCRON_TEST_ETCD_URL")) };
  }
  if (values.has("SNAPCRON_TEST_S3_ENDPOINT")) {
    env.s3 = {
      endpoint: stripSlash(get("SNAPCRON_TEST_S3_ENDPOINT")),
      accessKeyId: get("SNAPCRON_TEST_S3_ACCESS_KEY"),
      secretAccessKey: get("SNAPCRON_TEST_S3_SECRET_KEY"),
      region: get("SNAPCRON_TEST_S3_REGION"),
    };
  }
  if (values.has("SNAPCRON_TEST_ES_URL")) {
    env.es = {
      url: stripSlash(get("SNAPCRON_TEST_ES_URL")),
      repoPath: get("SNAPCRON_TEST_ES_REPO_PATH"),
      version: get("SNAPCRON_TEST_ES_VERSION"),
    };
  }
  return env;
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

/** Reads the `SNAPCRON_TEST_*` variables of the given services. */
export function readTestEnv<S extends Service>(services: readonly S[]): TestEnvResult<S> {
  const values = new Map<string, string>();
  const missing: string[] = [];
  let unreadable = false;
  for (const service of services) {
    for (const name of VARIABLES[service]) {
      // Without --allow-env a variable is as good as unset; report that rather than crash on load.
      const readable = canRead(name);
      const value = readable ? readVariable(name) : undefined;
      if (value === undefined) missing.push(name);
      else values.set(name, value);
      unreadable ||= !readable;
    }
  }
  if (missing.length > 0) return { ok: false, missing, unreadable };
  // Every variable of every requested service is present, so each requested key is filled.
  return { ok: true, env: buildEnv(values) as Pick<TestEnv, S> };
}

/** True when running under CI (`CI=true`), where a test must not be skipped silently. */
export function isCi(): boolean {
  if (!canRead("CI")) return false;
  const ci = Deno.env.get("CI")?.toLowerCase();
  return ci === "true" || ci === "1";
}

/**
 * Registers a Deno test that needs real servers. When their variables are missing it is ignored
 * with the reason in its name, or under CI registered as a failing test.
 */
export function serviceTest<S extends Service>(
  name: string,
  options: ServiceTestOptions<S>,
  fn: (env: Pick<TestEnv, S>) => Promise<void>,
): void {
  const sanitizers = {
    ...(options.sanitizeOps === undefined ? {} : { sanitizeOps: options.sanitizeOps }),
    ...(options.sanitizeResources === undefined
      ? {}
      : { sanitizeResources: options.sanitizeResources }),
  };
  const result = readTestEnv(options.services);
  if (result.ok) {
    const env = result.env;
    Deno.test({ name, ...sanitizers, fn: () => fn(env) });
    return;
  }
  const notSet = result.unreadable ? "not readable (run with --allow-env)" : "not set";
  if (isCi()) {
    const missing = result.missing.join(", ");
    Deno.test({
      name,
      fn() {
        throw new Error(`Cannot reach test servers: ${missing} ${notSet}; ${HINT}`);
      },
    });
    return;
  }
  const [first] = result.missing;
  const more = result.missing.length > 1 ? ` and ${result.missing.length - 1} more` : "";
  Deno.test({
    name: `${name} [ignored: ${first}${more} ${notSet}; run scripts/services.sh up]`,
    ignore: true,
    fn() {},
  });
}

/** A name unique to this run, lowercase, usable as bucket, index, repository or snapshot name. */
export function uniqueName(prefix: string): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
  return `${prefix}-${Date.now().toString(36)}-${random.toString(36)}`;
}

/** Options of {@linkcode fetchJson}. */
export interface FetchJsonOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
}

/** A JSON answer: HTTP status and parsed body (`undefined` when the body is empty). */
export interface JsonResponse {
  status: number;
  body: unknown;
}

/** Sends an optional JSON body and always consumes the response, so tests leak no streams. */
export async function fetchJson(
  url: string,
  options: FetchJsonOptions = {},
): Promise<JsonResponse> {
  const init: RequestInit = { method: options.method ?? "GET" };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers = { "content-type": "application/json" };
  }
  if (options.signal !== undefined) init.signal = options.signal;
  const response = await fetch(url, init);
  const text = await response.text();
  if (text === "") return { status: response.status, body: undefined };
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch (cause) {
    throw new SyntaxError(
      `Cannot parse the answer of ${init.method} "${url}" as JSON: HTTP ${response.status}: ${
        text.slice(0, 200)
      }`,
      { cause },
    );
  }
}
