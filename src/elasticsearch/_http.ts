/**
 * The wire under the client: one request tried on each URL in turn (connection errors,
 * timeouts and gateway errors move on), a timeout on every attempt, a cap on the answer's size
 * and JSON read defensively.
 */
import { readBody, ResponseTooLargeError } from "../http/mod.ts";
import type { Logger } from "../log/mod.ts";
import { EsError, parseErrorBody, snippet } from "./_errors.ts";

/** Query values; `undefined` leaves the parameter out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** One request, path already percent-encoded. */
export interface HttpRequest {
  method: "GET" | "PUT" | "POST" | "DELETE" | "HEAD";
  path: string;
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Overrides the transport's timeout (long waits for completion). */
  timeoutMs?: number;
}

/** A parsed answer; `body` is undefined when empty. */
export interface HttpAnswer {
  status: number;
  body: unknown;
  headers: Headers;
  method: string;
  /** Where it was answered, without credentials. */
  url: string;
}

/** What the transport is built from. */
export interface TransportOptions {
  urls: readonly string[];
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
  maxResponseBytes: number;
  log: Logger;
  fetch: typeof fetch;
  /** Aborts every request when the client closes. */
  closed: AbortSignal;
  /** The Deno HTTP client carrying TLS files, when there are any. */
  httpClient: () => Promise<Deno.HttpClient | undefined>;
}

type FetchInit = RequestInit & { client?: Deno.HttpClient };

/** Why one URL did not serve the request. */
class AttemptFailure extends Error {
  constructor(
    readonly kind: "connection_error" | "timeout" | "bad_gateway",
    message: string,
    readonly status = 0,
  ) {
    super(message);
  }
}

/** Sends requests to the first URL that answers, starting from the last one that did. */
export class Transport {
  readonly #options: TransportOptions;
  #current = 0;

  constructor(options: TransportOptions) {
    this.#options = options;
  }

  /** The URL requests go to first. */
  get currentUrl(): string {
    return this.#options.urls[this.#current] ?? "";
  }

  /** Full URL of a request on `base`, for messages and for measuring URL length. */
  urlOf(base: string, request: Pick<HttpRequest, "path" | "query">): string {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) search.set(key, String(value));
    }
    const query = search.toString();
    return `${base}${request.path}${query ? `?${query}` : ""}`;
  }

  /** Length of the longest URL this request could take. */
  maxUrlLength(request: Pick<HttpRequest, "path" | "query">): number {
    return Math.max(...this.#options.urls.map((base) => this.urlOf(base, request).length));
  }

  /** Sends `request`, failing over in order; throws EsError when no URL answered. */
  async send(request: HttpRequest): Promise<HttpAnswer> {
    const urls = this.#options.urls;
    const failures: AttemptFailure[] = [];
    for (let step = 0; step < urls.length; step++) {
      const index = (this.#current + step) % urls.length;
      const base = urls[index] ?? "";
      try {
        const answer = await this.#attempt(base, request);
        if (index !== this.#current) {
          this.#options.log.warn("Elasticsearch failed over", { from: this.currentUrl, to: base });
          this.#current = index;
        }
        return answer;
      } catch (error) {
        if (!(error instanceof AttemptFailure)) throw error;
        failures.push(error);
        if (urls.length > 1) {
          this.#options.log.warn("Elasticsearch URL did not answer", {
            url: base,
            error: error.message,
          });
        }
      }
    }
    const last = failures[failures.length - 1];
    throw new EsError({
      type: last?.kind ?? "connection_error",
      status: last?.status ?? 0,
      reason: failures.map((failure) => failure.message).join("; ") +
        (failures.every((failure) => failure.message.includes(": TLS handshake failed: "))
          ? ""
          : " (check the URLs, the network and that the cluster is up)"),
      method: request.method,
      url: this.urlOf(urls[this.#current] ?? "", request),
    });
  }

  async #attempt(base: string, request: HttpRequest): Promise<HttpAnswer> {
    const url = this.urlOf(base, request);
    // setTimeout fires at once beyond 2^31 - 1 ms (24.8 days).
    const timeoutMs = Math.min(request.timeoutMs ?? this.#options.timeoutMs, 2 ** 31 - 1);
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new DOMException("timed out", "TimeoutError")),
      timeoutMs,
    );
    const signals = [timeout.signal, this.#options.closed];
    if (request.signal) signals.push(request.signal);
    const signal = AbortSignal.any(signals);
    const init: FetchInit = {
      method: request.method,
      headers: { ...this.#options.headers, accept: "application/json" },
      signal,
    };
    if (request.body !== undefined) {
      init.body = JSON.stringify(request.body);
      init.headers = { ...init.headers, "content-type": "application/json" };
    }
    const client = await this.#options.httpClient();
    if (client) init.client = client;
    const started = performance.now();
    try {
      let response: Response;
      try {
        response = await this.#options.fetch(url, init);
      } catch (error) {
        throw this.#fetchFailure(url, error, timeout.signal, timeoutMs, request.signal);
      }
      let bytes: Uint8Array;
      try {
        bytes = await readBounded(response, this.#options.maxResponseBytes, request.method, url);
      } catch (error) {
        if (error instanceof EsError) throw error;
        throw this.#fetchFailure(url, error, timeout.signal, timeoutMs, request.signal);
      }
      this.#options.log.debug("Elasticsearch request", {
        method: request.method,
        url,
        status: response.status,
        ms: Math.round(performance.now() - started),
      });
      const text = new TextDecoder().decode(bytes);
      if (isGatewayFailure(response.status, text)) {
        throw new AttemptFailure(
          "bad_gateway",
          `"${url}" answered HTTP ${response.status}: ${snippet(text, 120)}`,
          response.status,
        );
      }
      const body = parseJson(text, response, request.method, url);
      return {
        status: response.status,
        body,
        headers: response.headers,
        method: request.method,
        url,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  #fetchFailure(
    url: string,
    error: unknown,
    timeout: AbortSignal,
    timeoutMs: number,
    callerSignal: AbortSignal | undefined,
  ): unknown {
    // The caller's own abort and close() end the request: no failover, the reason goes up as is.
    if (callerSignal?.aborted) return callerSignal.reason;
    if (this.#options.closed.aborted) {
      return new Error("Cannot send the request: the Elasticsearch client is closed");
    }
    if (timeout.aborted) {
      return new AttemptFailure("timeout", `"${url}" did not answer within ${timeoutMs} ms`);
    }
    const message = causeChain(error);
    const hint = tlsHint(message);
    return new AttemptFailure(
      "connection_error",
      hint
        ? `"${url}": TLS handshake failed: ${message} (${hint})`
        : `"${url}" is unreachable: ${message}`,
    );
  }
}

/** `fetch failed: received fatal alert: …`: fetch hides the useful part in its causes. */
function causeChain(error: unknown): string {
  const parts: string[] = [];
  for (let cause = error, depth = 0; cause !== undefined && depth < 5; depth++) {
    const text = cause instanceof Error ? cause.message : String(cause);
    if (text !== "" && !parts.some((part) => part.includes(text))) parts.push(text);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return parts.join(": ");
}

/** What to set when a TLS handshake failed, from the words rustls uses; undefined otherwise. */
function tlsHint(message: string): string | undefined {
  if (/CertificateRequired/i.test(message)) {
    return 'the server requires a client certificate: set "cert_file" and "key_file"';
  }
  if (
    /fatal alert: (UnknownCA|BadCertificate|CertificateUnknown|DecryptError|AccessDenied)/i.test(
      message,
    )
  ) {
    return 'the server refused the client certificate: "cert_file" must be signed by a CA it trusts';
  }
  if (/invalid peer certificate/i.test(message)) {
    return /NotValidForName/i.test(message)
      ? "the server's certificate does not name this host: use the host name it was issued for"
      : 'the server\'s certificate is not trusted: set "ca_file" to the CA that signed it';
  }
  return undefined;
}

/**
 * 502 and 504 come from proxies; a 503 does too unless it carries an Elasticsearch error
 * document, since the server itself answers 503 for `concurrent_snapshot_execution_exception`.
 */
function isGatewayFailure(status: number, text: string): boolean {
  if (status === 502 || status === 504) return true;
  if (status !== 503) return false;
  try {
    return parseErrorBody(JSON.parse(text)) === undefined;
  } catch {
    return true;
  }
}

/** The body, at most `max` bytes (src/http), a larger one refused as `response_too_large`. */
async function readBounded(
  response: Response,
  max: number,
  method: string,
  url: string,
): Promise<Uint8Array> {
  try {
    return await readBody(response, { maxBytes: max, source: url });
  } catch (error) {
    if (!(error instanceof ResponseTooLargeError)) throw error;
    const size = error.declaredBytes === undefined
      ? `over ${max} bytes`
      : `${error.declaredBytes} bytes`;
    throw new EsError({
      type: "response_too_large",
      status: response.status,
      reason: `the answer is ${size}, more than the limit of ${max} bytes ` +
        "(raise maxResponseBytes or ask for less)",
      method,
      url,
    });
  }
}

function parseJson(text: string, response: Response, method: string, url: string): unknown {
  if (text.trim() === "") return undefined;
  const type = response.headers.get("content-type") ?? "";
  const invalid = (reason: string, cause?: unknown): EsError =>
    new EsError({
      type: "invalid_response",
      status: response.status,
      reason: `${reason}: ${snippet(text, 120)} (is this URL an Elasticsearch or OpenSearch node?)`,
      method,
      url,
      retryable: false,
      cause,
    });
  if (!/\bjson\b/i.test(type)) throw invalid(`expected JSON, got content type "${type || "none"}"`);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw invalid(`the JSON answer is truncated or malformed (${text.length} characters)`, cause);
  }
}
