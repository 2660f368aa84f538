/**
 * Pings and webhooks after runs: Healthchecks.io-style ping URLs (`/start`, success,
 * `/<exit status>`) and a generic JSON webhook. Deliveries have a timeout and retries, run in
 * the background and never hold up a job.
 */
import type { Logger } from "../log/mod.ts";
import { delay, type RunEvent, type RunRecord, type RunStore } from "../runner/mod.ts";

/** Where one job's notifications go. */
export interface NotifyTarget {
  pingUrl?: string;
  webhookUrl?: string;
  webhookOn?: "failure" | "always";
}

/** Options of {@linkcode Notifier}. */
export interface NotifierOptions {
  log: Logger;
  /** Per attempt. */
  timeoutMs?: number;
  /** Extra attempts after a failed delivery. */
  retries?: number;
  /** First wait between attempts; doubles each time. */
  retryBackoffMs?: number;
  /** Host name reported in webhooks. */
  hostname?: string;
  fetch?: typeof fetch;
}

/** Healthchecks.io keeps the first 10,000 bytes of a ping body on self-hosted instances. */
const PING_BODY_BYTES = 10_000;
const WEBHOOK_TAIL_CHARS = 4_000;

/** Sends pings and webhooks for the runs of the jobs it is given. */
export class Notifier {
  readonly #targets: Map<string, NotifyTarget>;
  readonly #options: Required<Omit<NotifierOptions, "hostname">> & { hostname: string };
  readonly #pending = new Set<Promise<void>>();
  /** Per run: its ping rid and the start ping's delivery, which the end ping waits for. */
  readonly #runs = new Map<string, { rid: string; started: Promise<void> }>();
  readonly #controller = new AbortController();
  #closed = false;

  /** `targets` maps job names to where their notifications go. */
  constructor(targets: Map<string, NotifyTarget>, options: NotifierOptions) {
    this.#targets = targets;
    this.#options = {
      timeoutMs: 10_000,
      retries: 2,
      retryBackoffMs: 1000,
      fetch: globalThis.fetch.bind(globalThis),
      hostname: safeHostname(),
      ...options,
    };
  }

  /** Subscribes to `store`; returns the unsubscribe function. */
  attach(store: RunStore): () => void {
    return store.subscribe((event) => this.#onEvent(event));
  }

  /** Waits for deliveries under way (at most `graceMs`), then cancels the rest; safe twice. */
  async close(graceMs = 5000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const timer = setTimeout(
      () =>
        this.#controller.abort(new Error(`not delivered within ${graceMs} ms of shutting down`)),
      graceMs,
    );
    await Promise.allSettled([...this.#pending]);
    clearTimeout(timer);
  }

  /** Resolves when every delivery started so far has ended (for tests). */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  #onEvent(event: RunEvent): void {
    if (this.#closed || event.type === "update" || event.type === "skip") return;
    const record = event.record;
    const target = this.#targets.get(record.job);
    if (!target) return;
    if (event.type === "start") {
      if (!target.pingUrl) return;
      const rid = crypto.randomUUID();
      const started = this.#send(record.job, "ping start", `${target.pingUrl}/start?rid=${rid}`, {
        method: "POST",
      });
      this.#runs.set(record.id, { rid, started });
      return;
    }
    const run = this.#runs.get(record.id);
    this.#runs.delete(record.id);
    const rid = run?.rid;
    const ok = record.result === "success";
    if (target.pingUrl) {
      const suffix = ok ? "" : `/${pingStatus(record)}`;
      const query = rid ? `?rid=${rid}` : "";
      // The end ping goes after the start ping, or the check would look started after it ended.
      this.#send(
        record.job,
        ok ? "ping success" : "ping failure",
        `${target.pingUrl}${suffix}${query}`,
        {
          method: "POST",
          headers: { "content-type": "text/plain; charset=utf-8" },
          body: pingBody(record),
        },
        run?.started,
      );
    }
    if (target.webhookUrl && (!ok || target.webhookOn === "always")) {
      this.#send(record.job, "webhook", target.webhookUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(webhookPayload(record, this.#options.hostname)),
      });
    }
  }

  #send(
    job: string,
    what: string,
    url: string,
    init: RequestInit,
    after: Promise<void> = Promise.resolve(),
  ): Promise<void> {
    const delivery: Promise<void> = after
      .then(() => this.#deliver(job, what, url, init))
      .finally(() => this.#pending.delete(delivery));
    this.#pending.add(delivery);
    return delivery;
  }

  async #deliver(job: string, what: string, url: string, init: RequestInit): Promise<void> {
    const { retries, timeoutMs, retryBackoffMs, log } = this.#options;
    let reason = "";
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) {
        const wait = retryBackoffMs * 2 ** (attempt - 1);
        try {
          await delay(wait, this.#controller.signal);
        } catch {
          break;
        }
      }
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = AbortSignal.any([this.#controller.signal, timeout]);
      try {
        const response = await this.#options.fetch(url, { ...init, signal });
        // The status is the answer: the body is never read, so a huge or endless one costs
        // nothing.
        await response.body?.cancel().catch(() => {});
        if (response.ok) return;
        reason = `HTTP ${response.status}`;
        // A 4xx other than 408/429 will not get better by retrying.
        if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
      } catch (error) {
        if (this.#controller.signal.aborted) {
          reason = errorMessage(this.#controller.signal.reason);
          break;
        }
        reason = timeout.aborted
          ? `no answer within ${timeoutMs} ms (the monitoring endpoint is slow or down)`
          : errorMessage(error);
      }
    }
    if (this.#controller.signal.aborted && reason === "") {
      reason = errorMessage(this.#controller.signal.reason);
    }
    // The URL is a secret (a ping URL is its own credential): the logger masks it.
    log.warn(`Could not deliver ${what}: ${reason}`, { job, url });
  }
}

/** Healthchecks.io's exit-status endpoint takes 0–255; a timeout reports 124 like coreutils. */
function pingStatus(record: RunRecord): number {
  const status = record.exitStatus ?? 1;
  return status === 0 ? 1 : Math.min(Math.max(status, 1), 255);
}

/** The end of the output, stdout then stderr, cut to what a ping keeps. */
function pingBody(record: RunRecord): Uint8Array<ArrayBuffer> {
  const text = [
    record.error ? `error: ${record.error}` : "",
    record.stdout ? `--- stdout\n${record.stdout}` : "",
    record.stderr ? `--- stderr\n${record.stderr}` : "",
  ].filter(Boolean).join("\n");
  const bytes = new TextEncoder().encode(text);
  return bytes.length <= PING_BODY_BYTES ? bytes : bytes.slice(bytes.length - PING_BODY_BYTES);
}

/** The JSON a webhook receives. */
export function webhookPayload(record: RunRecord, hostname: string): Record<string, unknown> {
  const ended = record.endedAt?.getTime();
  return {
    source: "snapcron",
    host: hostname,
    job: record.job,
    run_id: record.id,
    result: record.result,
    exit_status: record.exitStatus ?? null,
    trigger: record.trigger,
    scheduled_at: record.scheduledAt?.toISOString() ?? null,
    started_at: record.startedAt.toISOString(),
    ended_at: record.endedAt?.toISOString() ?? null,
    duration_seconds: ended !== undefined ? (ended - record.startedAt.getTime()) / 1000 : null,
    attempts: record.attempts,
    error: record.error ?? null,
    stdout_tail: record.stdout.slice(-WEBHOOK_TAIL_CHARS),
    stderr_tail: record.stderr.slice(-WEBHOOK_TAIL_CHARS),
    artifacts: record.artifacts,
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function safeHostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
