import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "../metrics/mod.ts";
import type { JobHistory } from "../runner/mod.ts";
import { renderDashboard } from "./_dashboard.ts";
import { goCronRun, goCronRunning, jobJson, jobState, type StatusJob, unhealthy } from "./_json.ts";

/** Where the handlers read jobs and runs from. */
export interface StatusSource {
  jobs(): StatusJob[];
  history(job: string): JobHistory | undefined;
}

/** Options of {@linkcode createStatusHandler}. */
export interface StatusHandlerOptions {
  now?: () => Date;
  version?: string;
}

const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
  vary: "accept",
};

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
  return (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response(JSON.stringify({ error: `method ${request.method} not allowed` }), {
        status: 405,
        headers: { ...JSON_HEADERS, allow: "GET, HEAD" },
      });
    }
    const path = new URL(request.url).pathname.replace(/\/+$/, "") || "/";
    if (path === "/healthz") {
      return new Response("ok\n", { headers: { "content-type": "text/plain" } });
    }
    if (path === "/" && wantsHtml(request)) return dashboard(source, now(), options.version);
    if (path === "/") return overview(source, now(), options.version);
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

function overview(source: StatusSource, at: Date, version: string | undefined): Response {
  const jobs = source.jobs();
  const histories = jobs.map((job) => source.history(job.name));
  const finished = histories.flatMap((history) => history?.history[0] ?? [])
    .sort((a, b) => (b.endedAt?.getTime() ?? 0) - (a.endedAt?.getTime() ?? 0));
  // With several jobs, "Last" shows the newest failure while any job is failing, so a check
  // that reads only Last.Exit_status sees the problem.
  const last = finished.find((record) => record.result !== "success") ?? finished[0];
  const sick = unhealthyJobs(source, at);
  const body = {
    Running: goCronRunning(histories.flatMap((history) => history?.running ?? [])),
    Last: goCronRun(last),
    Schedule: jobs.length === 1
      ? jobs[0]!.schedule
      : jobs.map((job) => `${job.name}=${job.schedule}`).join("; "),
    ...(version ? { version } : {}),
    healthy: sick.length === 0,
    unhealthy_jobs: sick.map((job) => job.name),
    jobs: Object.fromEntries(
      jobs.map((job, i) => [job.name, jobJson(job, histories[i], at)]),
    ),
  };
  return json(body, sick.length > 0 ? 503 : 200);
}
