import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "../metrics/mod.ts";
import type { JobHistory } from "../runner/mod.ts";
import { renderDashboard } from "./_dashboard.ts";
import { goCronRun, goCronRunning, jobJson, jobState, type StatusJob, unhealthy } from "./_json.ts";

/** Where the handlers read jobs and runs from. */
export interface StatusSource {
  jobs(): StatusJob[];
  history(job: string): JobHistory | undefined;
  /** Changes whenever a run starts, changes or ends; lets `/` reuse its last answer. */
  revision?(): number;
}

/** How long `/` may reuse an answer while nothing changed (elapsed times move, too). */
const OVERVIEW_CACHE_MS = 1000;

/** What the mutating endpoints do; they exist only when a token is configured. */
export interface StatusActions {
  /** Starts a run now (under the job's overlap and group rules); says what happened. */
  run(job: string): string;
  /** Stops scheduling the job until resumed; a running run goes on. */
  pause(job: string): void;
  resume(job: string): void;
}

/** Options of {@linkcode createStatusHandler}. */
export interface StatusHandlerOptions {
  now?: () => Date;
  version?: string;
  /** Enables `POST /jobs/NAME/run|pause|resume`, which need `Authorization: Bearer TOKEN`. */
  token?: string;
  /** Requires the token for every read endpoint too, except `/healthz`. */
  protectReads?: boolean;
  actions?: StatusActions;
  /** This replica's part in leader election, shown in `/` as `ha`. */
  ha?: () => { role: string; leader: string | null; identity: string };
  /** Logs each use of a mutating endpoint (and refused attempts). */
  audit?: (message: string, fields: Record<string, unknown>) => void;
}

/** Longest request URL served; longer ones are refused before any work. */
const MAX_URL_LENGTH = 4096;
/** The endpoints take no body; a large one is refused. */
const MAX_BODY_BYTES = 1024;

/** Compares in time that depends only on the lengths, not on where the strings differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  let diff = left.length ^ right.length;
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
  }
  return diff === 0;
}

function bearer(request: Request): string | undefined {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * JSON answers carry only their type, as go-cron's do. That keeps `GET /` on `Deno.serve`'s fast
 * path for a 200 with a fixed body (one `content-type` header, nothing else); `cache-control`
 * and `vary` moved it to the general path and cost ~9% of its requests per second. No cache
 * stores these answers anyway: they have neither a lifetime nor a validator.
 */
const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

const HTML_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
  "x-content-type-options": "nosniff",
  vary: "accept",
};

/** Browsers ask for HTML; curl, go-cron checks and monitors get JSON. */
function wantsHtml(request: Request): boolean {
  return /\btext\/html\b/.test(request.headers.get("accept") ?? "");
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", { status, headers: JSON_HEADERS });
}

function unauthorized(): Response {
  return new Response(
    JSON.stringify({ error: "send the status token as Authorization: Bearer TOKEN" }),
    {
      status: 401,
      headers: { ...JSON_HEADERS, "www-authenticate": 'Bearer realm="snapcron"' },
    },
  );
}

function notFound(message: string): Response {
  return json({ error: message }, 404);
}

/**
 * The status server's routes: `/` (go-cron JSON, 503 when a job failed or is stale), `/jobs`,
 * `/jobs/NAME`, `/metrics` (Prometheus) and `/healthz`.
 */
export function createStatusHandler(
  source: StatusSource,
  options: StatusHandlerOptions = {},
): (request: Request) => Response {
  const now = options.now ?? (() => new Date());
  const token = options.token || undefined;
  let cached: { revision: number; at: number; text: string; status: number } | undefined;
  const authorized = (request: Request) => {
    const given = bearer(request);
    return token !== undefined && given !== undefined && constantTimeEqual(given, token);
  };
  return (request) => {
    const url = request.url;
    if (url.length > MAX_URL_LENGTH) return json({ error: "request URL too long" }, 414);
    const reads = request.method === "GET" || request.method === "HEAD";
    if (!reads) {
      const length = Number(request.headers.get("content-length") ?? "0");
      if (!(length <= MAX_BODY_BYTES)) return json({ error: "request body too large" }, 413);
    }
    const path = pathOf(url);
    if (path === "/healthz") {
      return new Response("ok\n", { headers: { "content-type": "text/plain" } });
    }
    const action = /^\/jobs\/([^/]+)\/(run|pause|resume)$/.exec(path);
    if (action && token !== undefined && options.actions) {
      if (request.method !== "POST") {
        return json({ error: `use POST for ${path}` }, 405);
      }
      const name = decodeURIComponent(action[1]!);
      const what = action[2] as "run" | "pause" | "resume";
      if (!authorized(request)) {
        options.audit?.("Refused a status action: missing or wrong token", {
          action: what,
          job: name,
        });
        return unauthorized();
      }
      if (!source.jobs().some((job) => job.name === name)) {
        return notFound(`no job named "${name}": GET /jobs lists them`);
      }
      options.audit?.(`Status action: ${what}`, { action: what, job: name });
      cached = undefined;
      if (what === "run") return json({ job: name, result: options.actions.run(name) }, 202);
      options.actions[what](name);
      return json({ job: name, paused: what === "pause" });
    }
    if (!reads) {
      return new Response(JSON.stringify({ error: `method ${request.method} not allowed` }), {
        status: 405,
        headers: { ...JSON_HEADERS, allow: "GET, HEAD" },
      });
    }
    if (options.protectReads && token !== undefined && !authorized(request)) return unauthorized();
    if (path === "/" && wantsHtml(request)) return dashboard(source, now(), options.version);
    if (path === "/") {
      const at = now();
      const revision = source.revision?.();
      if (
        revision === undefined || cached?.revision !== revision ||
        at.getTime() - cached.at >= OVERVIEW_CACHE_MS || at.getTime() < cached.at
      ) {
        const [body, status] = overview(source, at, options.version, options.ha?.());
        cached = {
          revision: revision ?? -1,
          at: at.getTime(),
          text: JSON.stringify(body, null, 2) + "\n",
          status,
        };
      }
      return new Response(request.method === "HEAD" ? null : cached.text, {
        status: cached.status,
        headers: JSON_HEADERS,
      });
    }
    if (path === "/metrics") {
      const text = renderPrometheus(source, options.version ? { version: options.version } : {});
      return new Response(text, { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
    }
    if (path === "/jobs") {
      const at = now();
      return json(source.jobs().map((job) => jobJson(job, source.history(job.name), at)));
    }
    const match = /^\/jobs\/([^/]+)$/.exec(path);
    if (match) {
      const name = decodeURIComponent(match[1]!);
      const job = source.jobs().find((candidate) => candidate.name === name);
      if (!job) return notFound(`no job named "${name}": GET /jobs lists them`);
      const history = source.history(name);
      const at = now();
      return json(jobJson(job, history, at), unhealthy(jobState(history, job, at)) ? 503 : 200);
    }
    return notFound(`no such path "${path}": try /, /jobs, /jobs/NAME, /metrics or /healthz`);
  };
}

/**
 * The path of a request URL as `Deno.serve` gives it (`http://HOST/PATH?QUERY`), without the
 * query and without trailing slashes ("/" for none). Cut by hand: without a `new URL()` for
 * every request, and without reading the headers for a body length that a GET never has,
 * `GET /` serves 1.12× as many requests per second.
 */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  let end = url.indexOf("?", start);
  if (end < 0) end = url.length;
  const hash = url.indexOf("#", start);
  if (hash >= 0 && hash < end) end = hash;
  while (end > start && url.charCodeAt(end - 1) === 47) end--;
  return end > start ? url.slice(start, end) : "/";
}

function unhealthyJobs(source: StatusSource, at: Date): StatusJob[] {
  return source.jobs().filter((job) => unhealthy(jobState(source.history(job.name), job, at)));
}

function dashboard(source: StatusSource, at: Date, version: string | undefined): Response {
  const html = renderDashboard(source, { now: at, ...(version ? { version } : {}) });
  // The same status as the JSON, for monitors that send Accept: text/html.
  return new Response(html, {
    status: unhealthyJobs(source, at).length > 0 ? 503 : 200,
    headers: HTML_HEADERS,
  });
}

function overview(
  source: StatusSource,
  at: Date,
  version: string | undefined,
  ha: Record<string, unknown> | undefined,
): [Record<string, unknown>, number] {
  const jobs = source.jobs();
  const histories = jobs.map((job) => source.history(job.name));
  const finished = histories.flatMap((history) => history?.history[0] ?? [])
    .sort((a, b) => (b.endedAt?.getTime() ?? 0) - (a.endedAt?.getTime() ?? 0));
  // With several jobs, "Last" shows the newest failure while any job is failing, so a check
  // that reads only Last.Exit_status sees the problem.
  const last = finished.find((record) => record.result !== "success") ?? finished[0];
  const sick = jobs.filter((job, i) => unhealthy(jobState(histories[i], job, at)));
  const body = {
    Running: goCronRunning(histories.flatMap((history) => history?.running ?? [])),
    Last: goCronRun(last),
    Schedule: jobs.length === 1
      ? jobs[0]!.schedule
      : jobs.map((job) => `${job.name}=${job.schedule}`).join("; "),
    ...(version ? { version } : {}),
    ...(ha ? { ha } : {}),
    healthy: sick.length === 0,
    unhealthy_jobs: sick.map((job) => job.name),
    jobs: Object.fromEntries(
      jobs.map((job, i) => [job.name, jobJson(job, histories[i], at)]),
    ),
  };
  return [body, sick.length > 0 ? 503 : 200];
}
