/**
 * The etcd v3 client behind `mod.ts`: status and snapshots over native gRPC (HTTP/2 `fetch`) or
 * the JSON gateway, password auth per call, TLS, and fail over across endpoints.
 */
import { type Logger, silentLogger } from "../log/mod.ts";
import { Deadline } from "./_deadline.ts";
import {
  EtcdError,
  failoverReason,
  grpcCodeName,
  isFailover,
  isProtocolError,
  markFailover,
  markProtocol,
} from "./_errors.ts";
import { GrpcFrameDecoder } from "./_frames.ts";
import { describeGatewayError, GatewayDecoder, readGatewayAnswer } from "./_gateway.ts";
import { decodeSnapshotResponse } from "./_protobuf.ts";
import { BodyReader, type ChunkDecoder, type SnapshotDigest, verifiedStream } from "./_stream.ts";
import { SnapshotVerifier } from "./_verify.ts";

/** Options of {@linkcode EtcdClient}. */
export interface EtcdClientOptions {
  /** `http(s)://host:port` client URLs, tried in order. */
  endpoints: string[];
  username?: string;
  password?: string;
  /** PEM CA certificate to trust in addition to the system roots. */
  caFile?: string;
  /** PEM client certificate for client-cert auth; needs `keyFile`. */
  certFile?: string;
  keyFile?: string;
  /** Per request: to connect and get an answer, and between two reads of a snapshot. */
  timeoutMs?: number;
  log?: Logger;
}

/** The answer of `Maintenance/Status` from one member. */
export interface EtcdStatus {
  endpoint: string;
  version: string;
  dbSize: number;
  leader: string;
  memberId: string;
  raftIndex: string;
  revision: string;
}

/** How a snapshot travels: native gRPC, the JSON gateway, or gRPC with the gateway as fallback. */
export type SnapshotTransport = "auto" | "grpc" | "gateway";

/** Options of {@linkcode EtcdClient.snapshot}. */
export interface SnapshotOptions {
  /** Defaults to `auto`: gRPC, and the gateway when an endpoint does not speak gRPC. */
  transport?: SnapshotTransport;
  /** Aborts opening the snapshot and, later, errors its body. */
  signal?: AbortSignal;
}

/** A snapshot under way. */
export interface SnapshotStream {
  endpoint: string;
  transport: "grpc" | "gateway";
  /**
   * The snapshot bytes, exactly as `etcdctl snapshot save` writes them (data + 32-byte SHA-256
   * trailer). The stream ERRORS (does not close) if etcd reports an error mid-stream, if the
   * trailer does not equal the SHA-256 of the bytes before it, or if the size rule
   * (size % 512 == 32) fails — so a consumer that pipes it into an upload aborts the upload.
   */
  body: ReadableStream<Uint8Array>;
  /**
   * Resolves after the body ended successfully: total bytes, hex SHA-256 of the data part and
   * of the whole body (trailer included).
   */
  done: Promise<SnapshotDigest>;
}

interface HttpClients {
  /** JSON gateway calls; HTTP/1.1 or, over TLS, whatever ALPN picks. */
  unary: Deno.HttpClient;
  /** gRPC: HTTP/2 only (prior knowledge on http, ALPN h2 on https). */
  grpc: Deno.HttpClient;
}

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

/**
 * What other etcd features of this folder (leases) reach inside an {@linkcode EtcdClient} for,
 * so that they authenticate, time out and fail over exactly as it does. Not for `mod.ts`.
 */
export interface ClientInternals {
  /** Runs `attempt` on each endpoint in turn, the last good one first, until one succeeds. */
  failover<T>(
    what: string,
    signal: AbortSignal | undefined,
    attempt: (endpoint: string) => Promise<T>,
  ): Promise<T>;
  /** A token for `endpoint`, or `undefined` without a username or when etcd has auth off. */
  authenticate(endpoint: string, signal?: AbortSignal): Promise<string | undefined>;
  /** One JSON gateway call: the body of a 200 answer, else the error `status()` would throw. */
  call(
    endpoint: string,
    path: string,
    body: unknown,
    token: string | undefined,
    what: string,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>>;
}

let internalsOf: (client: EtcdClient) => ClientInternals;

const DEFAULT_TIMEOUT_MS = 10_000;
const GRPC_SNAPSHOT_PATH = "/etcdserverpb.Maintenance/Snapshot";
/** The buffer a gRPC snapshot body is read into, over and over (HTTP/2 frames are 16 KiB). */
const GRPC_READ_BYTES = 64 * 1024;
const ENDPOINT_HINT = "check that etcd runs and that the endpoints are right";
const AUTH_HINT = "check the username and password";
const ROOT_HINT = `${AUTH_HINT}; snapshots need a user with the root role`;
const TLS_HINT = `check "ca_file", "cert_file" and "key_file" against the server's TLS setup`;
const CN_HINT = "the gateway refuses client certificates with a Common Name: use one without";
/** etcd 3.4 reports snapshot auth failures as code Unknown (HTTP 500) with these messages. */
const AUTH_MESSAGE =
  /^auth: |etcdserver: (permission denied|user name is empty|invalid auth token|authentication failed|user name not found)/;

/** An etcd v3 client for backups: `status()` and `snapshot()`, with fail over. */
export class EtcdClient {
  readonly #endpoints: readonly string[];
  readonly #username: string | undefined;
  readonly #password: string | undefined;
  readonly #tlsFiles: Pick<EtcdClientOptions, "caFile" | "certFile" | "keyFile">;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  /** Index of the endpoint that answered last; tried first next time. */
  #preferred = 0;
  /** Endpoints where gRPC failed with a protocol error; `auto` goes straight to the gateway. */
  readonly #gatewayOnly = new Set<string>();
  #clients: Promise<HttpClients> | undefined;
  #live: HttpClients | undefined;
  #closed = false;

  /** Checks the options; files are read and connections made on first use. */
  constructor(options: EtcdClientOptions) {
    if (!Array.isArray(options.endpoints) || options.endpoints.length === 0) {
      throw new TypeError(
        `Invalid etcd options: "endpoints" must list at least one URL such as "http://127.0.0.1:2379"`,
      );
    }
    this.#endpoints = options.endpoints.map(normalizeEndpoint);
    if ((options.username === undefined) !== (options.password === undefined)) {
      throw new TypeError(
        `Invalid etcd options: "username" and "password" go together (give both or neither)`,
      );
    }
    if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
      throw new TypeError(
        `Invalid etcd options: "certFile" and "keyFile" go together (give both or neither)`,
      );
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > 2 ** 31 - 1) {
      throw new RangeError(
        `Invalid etcd options: "timeoutMs" must be a positive number of milliseconds, got ${timeoutMs}`,
      );
    }
    this.#username = options.username;
    this.#password = options.password;
    this.#tlsFiles = {
      ...(options.caFile === undefined ? {} : { caFile: options.caFile }),
      ...(options.certFile === undefined ? {} : { certFile: options.certFile }),
      ...(options.keyFile === undefined ? {} : { keyFile: options.keyFile }),
    };
    this.#timeoutMs = timeoutMs;
    this.#log = options.log ?? silentLogger();
  }

  /** Asks the first endpoint that answers for its status (`POST /v3/maintenance/status`). */
  async status(signal?: AbortSignal): Promise<EtcdStatus> {
    return await this.#failover("get the status", signal, async (endpoint) => {
      const token = await this.#authenticate(endpoint, signal);
      const what = "get the status";
      const answer = await this.#unary(endpoint, "/v3/maintenance/status", {}, token, what, signal);
      if (answer.status !== 200 || !isObject(answer.body)) {
        throw gatewayFailure(endpoint, what, answer);
      }
      return parseStatus(endpoint, answer.body);
    });
  }

  /**
   * Starts a snapshot on the first endpoint that answers and returns once its data flows;
   * consume or cancel `body`.
   */
  async snapshot(options: SnapshotOptions = {}): Promise<SnapshotStream> {
    const transport = options.transport ?? "auto";
    if (transport !== "auto" && transport !== "grpc" && transport !== "gateway") {
      throw new RangeError(
        `Invalid snapshot transport "${transport}": expected "auto", "grpc" or "gateway"`,
      );
    }
    const signal = options.signal;
    return await this.#failover("take a snapshot", signal, async (endpoint) => {
      const token = await this.#authenticate(endpoint, signal);
      const useGrpc = transport === "grpc" ||
        (transport === "auto" && !this.#gatewayOnly.has(endpoint));
      if (useGrpc) {
        try {
          return await this.#openGrpc(endpoint, token, signal);
        } catch (error) {
          if (transport === "grpc" || !isProtocolError(error)) throw error;
          this.#gatewayOnly.add(endpoint);
          this.#log.warn("etcd gRPC snapshot failed; using the JSON gateway", {
            endpoint,
            error: failoverReason(error as Error),
          });
        }
      }
      return await this.#openGateway(endpoint, token, signal);
    });
  }

  static {
    // Private members stay private to the class; this hands them to clientInternals() only.
    internalsOf = (client) => ({
      failover: (what, signal, attempt) => client.#failover(what, signal, attempt),
      authenticate: (endpoint, signal) => client.#authenticate(endpoint, signal),
      call: async (endpoint, path, body, token, what, signal) => {
        const answer = await client.#unary(endpoint, path, body, token, what, signal);
        // Streaming endpoints (keepalive) report a late failure as {"error":{…}} under HTTP 200.
        if (
          answer.status !== 200 || !isObject(answer.body) || isObject(answer.body.error)
        ) {
          throw gatewayFailure(endpoint, what, answer);
        }
        return answer.body;
      },
    });
  }

  /** Closes the HTTP clients (and with them idle connections); safe twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#live !== undefined) closeClients(this.#live);
    this.#live = undefined;
  }

  async #failover<T>(
    what: string,
    signal: AbortSignal | undefined,
    attempt: (endpoint: string) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new Error(`Cannot ${what}: the etcd client is closed`);
    signal?.throwIfAborted();
    const count = this.#endpoints.length;
    const failures: { endpoint: string; error: Error }[] = [];
    for (let step = 0; step < count; step++) {
      const index = step === 0 ? this.#preferred : (step <= this.#preferred ? step - 1 : step);
      const endpoint = this.#endpoints[index]!;
      try {
        const result = await attempt(endpoint);
        this.#preferred = index;
        return result;
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (!isFailover(error)) throw error;
        const failure = error as Error;
        failures.push({ endpoint, error: failure });
        if (step + 1 < count) {
          this.#log.warn("etcd endpoint failed; trying the next", {
            endpoint,
            error: failoverReason(failure),
          });
        }
      }
    }
    const [only] = failures;
    if (only !== undefined && failures.length === 1) throw only.error;
    const reasons = failures
      .map(({ endpoint, error }) => `"${endpoint}": ${failoverReason(error)}`)
      .join("; ");
    const codes = new Set(failures.map(({ error }) => (error as EtcdError).code));
    const [code] = codes;
    throw new EtcdError(`Cannot ${what} from any etcd endpoint: ${reasons} (${ENDPOINT_HINT})`, {
      code: codes.size === 1 && code !== undefined ? code : "Unavailable",
      cause: new AggregateError(failures.map(({ error }) => error)),
    });
  }

  /** A token for one call, or `undefined` without a username or when etcd has auth off. */
  async #authenticate(endpoint: string, signal?: AbortSignal): Promise<string | undefined> {
    if (this.#username === undefined) return undefined;
    const what = "authenticate to etcd";
    const body = { name: this.#username, password: this.#password };
    const answer = await this.#unary(
      endpoint,
      "/v3/auth/authenticate",
      body,
      undefined,
      what,
      signal,
    );
    if (answer.status === 200 && isObject(answer.body) && typeof answer.body.token === "string") {
      return answer.body.token;
    }
    const { code, message } = answerError(answer);
    // Like etcdctl: a username for a cluster without auth is no error.
    if (code === "FailedPrecondition" && message.includes("authentication is not enabled")) {
      this.#log.debug("etcd has authentication off; sending no token", { endpoint });
      return undefined;
    }
    const failover = isEndpointTrouble(answer.status, code, message);
    const hint = failover ? ENDPOINT_HINT : /CommonName/.test(message) ? CN_HINT : AUTH_HINT;
    const error = new EtcdError(
      `Cannot authenticate to etcd at "${endpoint}" as user "${this.#username}": ${message} (${hint})`,
      { endpoint, ...(code === undefined ? {} : { code }) },
    );
    if (failover) markFailover(error, `HTTP ${answer.status}: ${message}`);
    throw error;
  }

  /** One JSON gateway call, answer read in full within the timeout; throws only when unreached. */
  async #unary(
    endpoint: string,
    path: string,
    body: unknown,
    token: string | undefined,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<Answer> {
    const { unary } = await this.#httpClients();
    const deadline = new Deadline(signal);
    deadline.arm(this.#timeoutMs);
    try {
      const response = await fetch(endpoint + path, {
        method: "POST",
        client: unary,
        headers: jsonHeaders(token),
        body: JSON.stringify(body),
        signal: deadline.signal,
      });
      return await readGatewayAnswer(response, endpoint, what);
    } catch (error) {
      throw this.#unreached(error, endpoint, what, deadline);
    } finally {
      deadline.dispose();
    }
  }

  async #openGrpc(
    endpoint: string,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<SnapshotStream> {
    const { grpc } = await this.#httpClients();
    const what = "take a snapshot over gRPC";
    const headers: Record<string, string> = { "content-type": "application/grpc", te: "trailers" };
    if (token !== undefined) headers.authorization = token;
    const deadline = new Deadline(signal);
    deadline.arm(this.#timeoutMs);
    let response: Response;
    try {
      response = await fetch(endpoint + GRPC_SNAPSHOT_PATH, {
        method: "POST",
        client: grpc,
        headers,
        // One uncompressed frame holding an empty SnapshotRequest.
        body: new Uint8Array(5),
        signal: deadline.signal,
      });
    } catch (error) {
      deadline.dispose();
      throw this.#unreached(error, endpoint, what, deadline, true);
    }
    deadline.disarm();
    const refusal = grpcRefusal(endpoint, response);
    if (refusal !== undefined || response.body === null) {
      await response.body?.cancel().catch(() => {});
      deadline.dispose();
      throw refusal ?? markProtocol(
        new EtcdError(`Cannot ${what} at "${endpoint}": the answer has no body`, { endpoint }),
        "gRPC answer without body",
      );
    }
    // Wait for data before answering: over TLS etcd sends headers at once and its refusal
    // only in trailers, which fetch cannot read, so an empty body is all we would see.
    const reader = new BodyReader(response.body, GRPC_READ_BYTES);
    let first: Uint8Array | undefined;
    deadline.arm(this.#timeoutMs);
    try {
      first = await reader.read();
    } catch (error) {
      deadline.dispose();
      reader.cancel().catch(() => {});
      throw this.#unreached(error, endpoint, what, deadline, true);
    } finally {
      deadline.disarm();
    }
    if (first === undefined) {
      deadline.dispose();
      const reason = "etcd ended the gRPC stream without data";
      throw markProtocol(
        new EtcdError(
          `Cannot ${what} at "${endpoint}": ${reason}; its reason is in gRPC trailers, which fetch cannot read (transport "gateway" shows it; often a missing username or a user without the root role)`,
          { endpoint, code: "Unknown" },
        ),
        reason,
      );
    }
    // The reader reuses its buffer: messages must be copies.
    const frames = new GrpcFrameDecoder({ copy: true });
    const decoder: ChunkDecoder = {
      push: (bytes) => frames.push(bytes).map(decodeSnapshotResponse),
      end: () => {
        frames.end();
        return [];
      },
    };
    this.#log.debug("etcd snapshot started", { endpoint, transport: "grpc" });
    const stream = verifiedStream({
      endpoint,
      reader,
      first,
      decoder,
      deadline,
      signal,
      idleTimeoutMs: this.#timeoutMs,
      verifier: await SnapshotVerifier.create(),
    });
    return { endpoint, transport: "grpc", ...stream };
  }

  async #openGateway(
    endpoint: string,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<SnapshotStream> {
    const { unary } = await this.#httpClients();
    const what = "take a snapshot over the JSON gateway";
    const deadline = new Deadline(signal);
    deadline.arm(this.#timeoutMs);
    let response: Response;
    try {
      response = await fetch(endpoint + "/v3/maintenance/snapshot", {
        method: "POST",
        client: unary,
        headers: jsonHeaders(token),
        body: "{}",
        signal: deadline.signal,
      });
      if (response.status !== 200 || response.body === null) {
        throw gatewayFailure(endpoint, what, await readGatewayAnswer(response, endpoint, what));
      }
    } catch (error) {
      deadline.dispose();
      throw this.#unreached(error, endpoint, what, deadline);
    }
    deadline.disarm();
    this.#log.debug("etcd snapshot started", { endpoint, transport: "gateway" });
    const stream = verifiedStream({
      endpoint,
      // The gateway's decoder keeps pieces of chunks: a fresh buffer per read.
      reader: new BodyReader(response.body),
      decoder: new GatewayDecoder(),
      deadline,
      signal,
      idleTimeoutMs: this.#timeoutMs,
      verifier: await SnapshotVerifier.create(),
    });
    return { endpoint, transport: "gateway", ...stream };
  }

  /** Turns a failed `fetch` into the error to throw: caller's abort, timeout, or unreachable. */
  #unreached(
    error: unknown,
    endpoint: string,
    what: string,
    deadline: Deadline,
    grpc = false,
  ): unknown {
    if (deadline.callerAborted) return error;
    if (error instanceof EtcdError) return error;
    if (deadline.timedOut) {
      const reason = `no answer within ${this.#timeoutMs} ms`;
      return markFailover(
        new EtcdError(`Cannot ${what} at "${endpoint}": ${reason} (${ENDPOINT_HINT})`, {
          endpoint,
          code: "DeadlineExceeded",
          cause: error,
        }),
        reason,
      );
    }
    const detail = describeFetchError(error);
    // A server that rejects our certificate may just drop the connection after the handshake.
    const tlsTrouble = /certificate|tls|handshake|alert/i.test(detail) ||
      (endpoint.startsWith("https:") && /broken pipe|reset|closed/i.test(detail));
    const hint = tlsTrouble ? TLS_HINT : ENDPOINT_HINT;
    const failure = new EtcdError(`Cannot ${what} at "${endpoint}": ${detail} (${hint})`, {
      endpoint,
      code: "Unavailable",
      cause: error,
    });
    // Refused connections and failed handshakes mean "down"; anything else on the HTTP/2
    // client (a server that answers HTTP/1.1, a reset connection) may be a gRPC-only problem.
    if (grpc && !isConnectError(error)) return markProtocol(failure, detail);
    return markFailover(failure, detail);
  }

  async #httpClients(): Promise<HttpClients> {
    this.#clients ??= this.#createClients();
    const clients = await this.#clients;
    if (this.#closed) throw new Error("Cannot reach etcd: the etcd client is closed");
    return clients;
  }

  async #createClients(): Promise<HttpClients> {
    const { caFile, certFile, keyFile } = this.#tlsFiles;
    const tls: Deno.CreateHttpClientOptions & Partial<Deno.TlsCertifiedKeyPem> = {};
    if (caFile !== undefined) tls.caCerts = [await readPem(caFile, "CA certificate", "ca_file")];
    if (certFile !== undefined && keyFile !== undefined) {
      tls.cert = await readPem(certFile, "client certificate", "cert_file");
      tls.key = await readPem(keyFile, "client key", "key_file");
    }
    const clients: HttpClients = {
      unary: Deno.createHttpClient(tls as Deno.CreateHttpClientOptions),
      grpc: Deno.createHttpClient(
        { ...tls, http1: false, http2: true } as Deno.CreateHttpClientOptions,
      ),
    };
    if (this.#closed) closeClients(clients);
    else this.#live = clients;
    return clients;
  }
}

/** Folder-internal: the pieces of `client` that other etcd features build on. */
export function clientInternals(client: EtcdClient): ClientInternals {
  return internalsOf(client);
}

function closeClients(clients: HttpClients): void {
  clients.unary.close();
  clients.grpc.close();
}

async function readPem(path: string, label: string, option: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new EtcdError(`Cannot read the etcd ${label} "${path}": ${detail} (check "${option}")`, {
      cause,
    });
  }
}

function normalizeEndpoint(endpoint: unknown, index: number): string {
  const where = `Invalid etcd endpoint #${index + 1}`;
  if (typeof endpoint !== "string") throw new TypeError(`${where}: expected a URL string`);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TypeError(`${where} "${endpoint}": not a URL (expected "http(s)://host:port")`);
  }
  // Never echo the URL back once it may hold a password.
  if (url.username !== "" || url.password !== "") {
    throw new TypeError(
      `${where}: credentials in the URL are not supported (use "username" and "password")`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`${where} "${endpoint}": expected "http://" or "https://"`);
  }
  if (url.search !== "" || url.hash !== "" || (url.pathname !== "/" && url.pathname !== "")) {
    throw new TypeError(`${where} "${endpoint}": expected no path, query or fragment`);
  }
  return url.origin;
}

function jsonHeaders(token: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  // etcd before 3.5.32/3.6.13 takes the bare token, no "Bearer ".
  if (token !== undefined) headers.authorization = token;
  return headers;
}

/** The error for a gRPC answer that carries no snapshot, or `undefined` when it does. */
function grpcRefusal(endpoint: string, response: Response): EtcdError | undefined {
  const what = "take a snapshot over gRPC";
  const contentType = response.headers.get("content-type") ?? "";
  if (response.status !== 200 || !contentType.startsWith("application/grpc")) {
    const detail = `HTTP ${response.status} with content type "${contentType}" instead of gRPC`;
    return markProtocol(
      new EtcdError(`Cannot ${what} at "${endpoint}": ${detail}`, { endpoint }),
      detail,
    );
  }
  // A failure before any data comes as a trailers-only answer: status in the headers.
  const status = response.headers.get("grpc-status");
  if (status === null || status === "0") return undefined;
  const message = decodeGrpcMessage(response.headers.get("grpc-message") ?? "") || "no message";
  const code = authCode(grpcCodeName(status), message);
  const failover = isEndpointTrouble(undefined, code, message);
  const hint = failover ? ENDPOINT_HINT : AUTH_MESSAGE.test(message) ? ROOT_HINT : undefined;
  const error = new EtcdError(
    `etcd at "${endpoint}" refused the snapshot: ${message} (${code}${
      hint === undefined ? "" : `; ${hint}`
    })`,
    { endpoint, code },
  );
  if (code === "Unimplemented") return markProtocol(error, `${code}: ${message}`);
  return failover ? markFailover(error, `${code}: ${message}`) : error;
}

/** The error for a non-200 gateway answer; 5xx and `Unavailable` fail over, auth trouble not. */
function gatewayFailure(endpoint: string, what: string, answer: Answer): EtcdError {
  const { code, message } = answerError(answer);
  const failover = isEndpointTrouble(answer.status, code, message);
  const hint = failover
    ? ENDPOINT_HINT
    : /CommonName/.test(message)
    ? CN_HINT
    : AUTH_MESSAGE.test(message) || code === "PermissionDenied" || code === "Unauthenticated"
    ? ROOT_HINT
    : undefined;
  const reason = `HTTP ${answer.status}: ${message}`;
  const error = new EtcdError(
    `Cannot ${what} at "${endpoint}": ${reason}${hint === undefined ? "" : ` (${hint})`}`,
    { endpoint, ...(code === undefined ? {} : { code }) },
  );
  return failover ? markFailover(error, reason) : error;
}

/** Code and message of a gateway error answer, JSON or (from etcd's own checks) plain text. */
function answerError(answer: Answer): { code?: string; message: string } {
  if (answer.body === undefined) {
    return { message: answer.text.trim().slice(0, 200) || "empty answer" };
  }
  const { code, message } = describeGatewayError(answer.body);
  const normalized = code === undefined ? undefined : authCode(code, message);
  return normalized === undefined ? { message } : { code: normalized, message };
}

/** The code callers can act on: etcd 3.4 says `Unknown` for its auth failures. */
function authCode(code: string, message: string): string {
  if (code !== "Unknown" || !AUTH_MESSAGE.test(message)) return code;
  return /permission denied/.test(message) ? "PermissionDenied" : "Unauthenticated";
}

/** True when another endpoint may do better: 5xx or `Unavailable`, unless it is about auth. */
function isEndpointTrouble(
  status: number | undefined,
  code: string | undefined,
  message: string,
): boolean {
  if (AUTH_MESSAGE.test(message)) return false;
  return (status !== undefined && status >= 500) || code === "Unavailable";
}

function parseStatus(endpoint: string, body: Record<string, unknown>): EtcdStatus {
  const header = isObject(body.header) ? body.header : {};
  // The gateway writes 64-bit integers as decimal strings and leaves out zeros.
  const text = (value: unknown): string =>
    typeof value === "string" || typeof value === "number" ? String(value) : "0";
  return {
    endpoint,
    version: typeof body.version === "string" ? body.version : "",
    dbSize: Number(text(body.dbSize)),
    leader: text(body.leader),
    memberId: text(header.member_id),
    raftIndex: text(body.raftIndex),
    revision: text(header.revision),
  };
}

function decodeGrpcMessage(message: string): string {
  try {
    return decodeURIComponent(message);
  } catch {
    return message;
  }
}

/** The useful part of a fetch failure, e.g. "tcp connect error: Connection refused (os error 111)". */
function describeFetchError(error: unknown): string {
  const inner = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const message = inner instanceof Error ? inner.message : String(inner);
  return message
    .replace(/^error sending request (for url \(.*?\)|from .*? for .*? \(.*?\)): /, "")
    .replace(/^client error \((\w+)\): /, "");
}

function isConnectError(error: unknown): boolean {
  const inner = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const message = inner instanceof Error ? inner.message : String(inner);
  return /client error \(Connect\)|tcp connect error|dns error|Connection refused/i.test(message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
