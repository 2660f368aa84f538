/** Errors of the snapshot client: one class, keyed by the server's `error.type`. */

/** Error types worth retrying later: the cluster is busy with another snapshot operation. */
const RETRYABLE_TYPES = new Set([
  "concurrent_snapshot_execution_exception",
  "snapshot_in_progress_exception",
  "es_rejected_execution_exception",
  "process_cluster_event_timeout_exception",
]);

/** Client-side error types: no server answer, or one that cannot be read. */
export type EsClientErrorType =
  | "connection_error"
  | "timeout"
  | "bad_gateway"
  | "invalid_response"
  | "response_too_large"
  | "repository_settings_mismatch";

/** What {@linkcode EsError} is built from. */
export interface EsErrorInit {
  /** The answer's `error.type` (`repository_missing_exception`…) or an EsClientErrorType. */
  type: string;
  /** HTTP status; 0 when no answer came. */
  status: number;
  reason: string;
  method?: string;
  /** URL of the request, without credentials. */
  url?: string;
  /** The parsed error body, when there was one. */
  body?: unknown;
  /** Overrides the default (concurrency types, HTTP 429 and network failures are retryable). */
  retryable?: boolean;
  cause?: unknown;
}

/** A request Elasticsearch or OpenSearch refused, or whose answer could not be read. */
export class EsError extends Error {
  readonly type: string;
  readonly status: number;
  readonly reason: string;
  /** True when the same request may succeed later (another snapshot operation is running). */
  readonly retryable: boolean;
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly body: unknown;

  /** Builds the message from where the request went and what came back. */
  constructor(init: EsErrorInit) {
    super(formatMessage(init), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "EsError";
    this.type = init.type;
    this.status = init.status;
    this.reason = init.reason;
    this.retryable = init.retryable ?? isRetryable(init.type, init.status);
    this.method = init.method;
    this.url = init.url;
    this.body = init.body;
  }
}

function isRetryable(type: string, status: number): boolean {
  return RETRYABLE_TYPES.has(type) || status === 429 ||
    type === "connection_error" || type === "timeout" || type === "bad_gateway";
}

function formatMessage(init: EsErrorInit): string {
  const where = init.method !== undefined && init.url !== undefined
    ? ` to ${init.method} "${init.url}"`
    : "";
  const head = init.status > 0
    ? `Elasticsearch answered HTTP ${init.status}${where}`
    : `Elasticsearch request failed${where}`;
  return `${head}: ${init.type}: ${init.reason}`;
}

/** Reads `error.type` and the reason chain out of an error body; undefined when it is none. */
export function parseErrorBody(body: unknown): { type: string; reason: string } | undefined {
  if (!isRecord(body)) return undefined;
  const error = body.error;
  // Some answers (HTTP 405, very old servers) carry the error as a plain string.
  if (typeof error === "string") return { type: "http_error", reason: error };
  if (!isRecord(error) || typeof error.type !== "string") return undefined;
  return { type: error.type, reason: reasonChain(error) };
}

/** `reason; caused by: type: reason…`, since the useful part (a denied path) is often nested. */
function reasonChain(error: Record<string, unknown>): string {
  const parts = [typeof error.reason === "string" ? error.reason : "(no reason given)"];
  let cause = error.caused_by;
  for (let depth = 0; isRecord(cause) && depth < 5; depth++) {
    const type = typeof cause.type === "string" ? cause.type : "unknown";
    const reason = typeof cause.reason === "string" ? cause.reason : "";
    parts.push(`caused by: ${type}: ${reason}`);
    cause = cause.caused_by;
  }
  return parts.join("; ");
}

/** The EsError for an error answer, whether or not its body is an error document. */
export function errorFromAnswer(
  answer: { status: number; body: unknown; method: string; url: string },
): EsError {
  const parsed = parseErrorBody(answer.body);
  return new EsError({
    type: parsed?.type ?? "http_error",
    status: answer.status,
    reason: parsed?.reason ?? `unexpected answer: ${snippet(answer.body)}`,
    method: answer.method,
    url: answer.url,
    body: answer.body,
  });
}

/** A short, single-line rendering of a body for error messages. */
export function snippet(body: unknown, max = 200): string {
  const text = typeof body === "string" ? body : JSON.stringify(body) ?? String(body);
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** True for a plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
