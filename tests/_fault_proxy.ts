/**
 * A fault-injecting relay in front of the S3 test server. It works on the bytes of HTTP/1.1, not
 * on parsed requests: Deno's `fetch` replaces the `Host` header that SigV4 signed, and a relay
 * that forwards the bytes unchanged cannot break a signature. It parses just enough (request
 * line, headers, `Content-Length`) to tell an UploadPart from a CompleteMultipartUpload and to
 * cut a body where it wants to.
 *
 * Faults are chosen per request by a seeded PRNG:
 * - `error500` / `error503`: an S3 XML error (InternalError, SlowDown); the server never sees
 *   the request.
 * - `resetRequest`: the server gets the head and part of the body (all of a request that has
 *   none, such as CreateMultipartUpload), then both connections close.
 * - `resetResponse`: the server gets the whole request and acts on it; its answer is cut after a
 *   few bytes, so the client does not know what happened (the nasty case for a Complete).
 * - `stall`: the request is swallowed; nothing comes back until the client gives up.
 */

/** What the relay can do to one request. */
export type FaultKind = "error500" | "error503" | "resetRequest" | "resetResponse" | "stall";

/** Every fault kind, in a fixed order (the PRNG picks by index). */
export const FAULT_KINDS: readonly FaultKind[] = [
  "error500",
  "error503",
  "resetRequest",
  "resetResponse",
  "stall",
];

/** The S3 operations the relay tells apart, from the method, path and query. */
export type S3Operation =
  | "PutObject"
  | "CreateMultipartUpload"
  | "UploadPart"
  | "CompleteMultipartUpload"
  | "AbortMultipartUpload"
  | "ListParts"
  | "ListMultipartUploads"
  | "ListObjectsV2"
  | "GetObject"
  | "HeadObject"
  | "DeleteObjects"
  | "Other";

/** One request as the relay saw it. */
export interface ProxiedRequest {
  operation: S3Operation;
  method: string;
  /** The request target, e.g. `/bucket/key?partNumber=3&uploadId=…`. */
  target: string;
  /** The object key (path-style), without the bucket. */
  key: string;
  /** For UploadPart. */
  partNumber?: number;
  /** Declared body length. */
  length: number;
}

/** A fault chosen for one request; `cutAt` is where a reset cuts (bytes of body or answer). */
export interface Fault {
  kind: FaultKind;
  cutAt?: number;
}

/** A fault that was injected, for the test's report. */
export interface InjectedFault extends Fault {
  operation: S3Operation;
  key: string;
  partNumber?: number;
}

/** Chooses the fault for a request, or none; `random` is the relay's seeded PRNG. */
export type FaultChooser = (request: ProxiedRequest, random: () => number) => Fault | undefined;

/** Options of {@linkcode startFaultProxy}. */
export interface FaultProxyOptions {
  /** The S3 server, e.g. `http://127.0.0.1:19000`. */
  upstream: string;
  /** Seed of the PRNG that picks faults; the same seed gives the same sequence of choices. */
  seed?: number;
  /** Share of the eligible requests that get a fault, from 0 to 1; 0 by default. */
  rate?: number;
  /** Requests that may get a fault; UploadPart, PutObject, CompleteMultipartUpload by default. */
  operations?: readonly S3Operation[];
  /** Faults to pick from, evenly; all of them by default. */
  kinds?: readonly FaultKind[];
  /** Instead of `rate`, `operations` and `kinds`: a chooser of one's own. */
  choose?: FaultChooser;
  /** How long a stalled request is held at most before its connection is closed; 60 s. */
  stallMs?: number;
}

/** A running relay. */
export interface FaultProxy {
  /** `http://127.0.0.1:PORT`: give this to S3Storage as `endpoint`. */
  readonly endpoint: string;
  /** Requests seen, by operation. */
  readonly requests: Readonly<Record<S3Operation, number>>;
  /** Faults injected, by kind. */
  readonly faults: Readonly<Record<FaultKind, number>>;
  /** Every fault injected, in order. */
  readonly injected: readonly InjectedFault[];
  /** `12 faults in 140 requests (error500 3, …)`. */
  summary(): string;
  /** Stops listening and closes every connection; safe to call twice. */
  close(): Promise<void>;
}

const DEFAULT_OPERATIONS: readonly S3Operation[] = [
  "UploadPart",
  "PutObject",
  "CompleteMultipartUpload",
];
const MAX_HEAD_BYTES = 64 * 1024;
/** Cut an answer inside its head: s3proxy's shortest (UploadPart, PutObject) are ~150 bytes. */
const MAX_RESPONSE_CUT = 120;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** mulberry32: small, fast and good enough to pick faults reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Which S3 operation a path-style request is. */
export function s3Operation(method: string, target: string): S3Operation {
  const url = new URL(target, "http://relay");
  const query = url.searchParams;
  const segments = url.pathname.split("/").filter((segment) => segment !== "");
  const hasKey = segments.length > 1;
  if (query.has("uploadId")) {
    if (method === "PUT" && query.has("partNumber")) return "UploadPart";
    if (method === "POST") return "CompleteMultipartUpload";
    if (method === "DELETE") return "AbortMultipartUpload";
    if (method === "GET") return "ListParts";
  }
  if (query.has("uploads")) {
    return method === "POST" ? "CreateMultipartUpload" : "ListMultipartUploads";
  }
  if (method === "POST" && query.has("delete")) return "DeleteObjects";
  if (!hasKey) return method === "GET" ? "ListObjectsV2" : "Other";
  if (method === "PUT") return "PutObject";
  if (method === "GET") return "GetObject";
  if (method === "HEAD") return "HeadObject";
  return "Other";
}

/** Options of {@linkcode randomFaults}. */
export interface RandomFaultsOptions {
  /** Share of the requests in `operations` that get a fault, from 0 to 1. */
  rate: number;
  operations: readonly S3Operation[];
  kinds: readonly FaultKind[];
}

/** The default chooser: `rate` of the requests in `operations` get one of `kinds`, evenly. */
export function randomFaults(options: RandomFaultsOptions): FaultChooser {
  const { rate, operations, kinds } = options;
  return (request, random) => {
    if (!operations.includes(request.operation) || random() >= rate) return undefined;
    const kind = kinds[Math.floor(random() * kinds.length)] ?? "error500";
    if (kind === "resetRequest") return { kind, cutAt: Math.floor(random() * request.length) };
    if (kind === "resetResponse") return { kind, cutAt: Math.floor(random() * MAX_RESPONSE_CUT) };
    return { kind };
  };
}

/** Starts the relay on 127.0.0.1, on a free port. */
export function startFaultProxy(options: FaultProxyOptions): FaultProxy {
  const upstream = new URL(options.upstream);
  if (upstream.protocol !== "http:" || upstream.hostname !== "127.0.0.1") {
    throw new RangeError(`Invalid upstream "${options.upstream}": expected http://127.0.0.1:PORT`);
  }
  const upstreamPort = Number(upstream.port || 80);
  const random = seededRandom(options.seed ?? 1);
  const choose = options.choose ?? randomFaults({
    rate: options.rate ?? 0,
    operations: options.operations ?? DEFAULT_OPERATIONS,
    kinds: options.kinds ?? FAULT_KINDS,
  });
  const stallMs = options.stallMs ?? 60_000;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const sessions = new Set<Promise<void>>();
  const requests = Object.fromEntries(
    OPERATIONS.map((operation) => [operation, 0]),
  ) as Record<S3Operation, number>;
  const faults = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<
    FaultKind,
    number
  >;
  const injected: InjectedFault[] = [];
  const closing = new AbortController();
  let closed: Promise<void> | undefined;

  function track(conn: Deno.Conn): Deno.Conn {
    conns.add(conn);
    return conn;
  }

  function drop(conn: Deno.Conn | undefined): void {
    if (conn === undefined) return;
    conns.delete(conn);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }

  /** One client connection: requests one after another (keep-alive), each passed or faulted. */
  async function session(client: Deno.Conn): Promise<void> {
    const input = new BufferedReader(client);
    let server: Deno.Conn | undefined;
    let answers: Promise<void> | undefined;
    const cut: AnswerCut = { budget: undefined, hold: false };
    try {
      for (;;) {
        const head = await input.readHead();
        if (head === undefined) return;
        const request = parseHead(head);
        if (request === undefined || request.chunked) {
          await writeAll(client, errorResponse(501, "NotImplemented", "the relay needs a length"));
          return;
        }
        requests[request.info.operation]++;
        const fault = choose(request.info, random);
        if (fault !== undefined) {
          faults[fault.kind]++;
          injected.push({
            ...fault,
            operation: request.info.operation,
            key: request.info.key,
            ...(request.info.partNumber === undefined
              ? {}
              : { partNumber: request.info.partNumber }),
          });
        }
        if (fault?.kind === "error500" || fault?.kind === "error503") {
          const answer = fault.kind === "error500"
            ? errorResponse(500, "InternalError", "We encountered an internal error (injected)")
            : errorResponse(503, "SlowDown", "Please reduce your request rate (injected)");
          await writeAll(client, answer);
          // A client that waits for 100-continue sends no body; one that does not sends it now,
          // and closing on unread bytes would reset the connection before it read the answer.
          if (!request.expectContinue) await input.skip(request.info.length);
          return;
        }
        if (fault?.kind === "stall") {
          // The server may close its idle connection meanwhile; that must not end the stall.
          cut.hold = true;
          await input.drain(stallMs, closing.signal);
          return;
        }
        if (server === undefined) {
          server = track(await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort }));
          answers = relayAnswers(server, client, cut);
        }
        await writeAll(server, head);
        if (fault?.kind === "resetRequest") {
          await input.copy(server, Math.min(fault.cutAt ?? 0, request.info.length));
          return;
        }
        await input.copy(server, request.info.length);
        if (fault?.kind === "resetResponse") cut.budget = fault.cutAt ?? 0;
      }
    } catch {
      // Either side went away: the session ends.
    } finally {
      drop(client);
      drop(server);
      await answers;
    }
  }

  /** Server to client, byte for byte, until `cut.budget` runs out or either side closes. */
  async function relayAnswers(server: Deno.Conn, client: Deno.Conn, cut: AnswerCut): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await server.read(buffer);
        if (n === null) break;
        let bytes = buffer.subarray(0, n);
        const budget = cut.budget;
        if (budget !== undefined) bytes = bytes.subarray(0, budget);
        await writeAll(client, bytes);
        if (budget !== undefined) {
          cut.budget = budget - bytes.length;
          if (cut.budget <= 0) break;
        }
      }
    } catch {
      // Either side went away.
    } finally {
      if (!cut.hold) drop(client);
      drop(server);
    }
  }

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        track(conn);
        const running = session(conn).finally(() => sessions.delete(running));
        sessions.add(running);
      }
    } catch {
      // The listener was closed.
    }
  })();

  return {
    endpoint: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    requests,
    faults,
    injected,
    summary() {
      const total = Object.values(requests).reduce((sum, n) => sum + n, 0);
      const kinds = FAULT_KINDS.map((kind) => `${kind} ${faults[kind]}`).join(", ");
      return `${injected.length} faults in ${total} requests (${kinds})`;
    },
    close() {
      closed ??= (async () => {
        closing.abort();
        listener.close();
        await accepting;
        for (const conn of [...conns]) drop(conn);
        await Promise.all([...sessions]);
      })();
      return closed;
    },
  };
}

const OPERATIONS: readonly S3Operation[] = [
  "PutObject",
  "CreateMultipartUpload",
  "UploadPart",
  "CompleteMultipartUpload",
  "AbortMultipartUpload",
  "ListParts",
  "ListMultipartUploads",
  "ListObjectsV2",
  "GetObject",
  "HeadObject",
  "DeleteObjects",
  "Other",
];

/** What the relay of answers may pass on. */
interface AnswerCut {
  /** Bytes of the current answer still allowed through; undefined: no limit. */
  budget: number | undefined;
  /** Keep the client connection open when the server closes (a stall is under way). */
  hold: boolean;
}

interface ParsedHead {
  info: ProxiedRequest;
  expectContinue: boolean;
  chunked: boolean;
}

function parseHead(head: Uint8Array): ParsedHead | undefined {
  const lines = decoder.decode(head).split("\r\n");
  const [method, target] = (lines[0] ?? "").split(" ");
  if (method === undefined || target === undefined) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  const url = new URL(target, "http://relay");
  const key = decodeURIComponent(url.pathname.split("/").slice(2).join("/"));
  const partNumber = url.searchParams.get("partNumber");
  const info: ProxiedRequest = {
    operation: s3Operation(method, target),
    method,
    target,
    key,
    length: Number(headers.get("content-length") ?? 0),
    ...(partNumber === null ? {} : { partNumber: Number(partNumber) }),
  };
  return {
    info,
    expectContinue: headers.get("expect")?.toLowerCase() === "100-continue",
    chunked: /chunked/i.test(headers.get("transfer-encoding") ?? ""),
  };
}

function errorResponse(status: number, code: string, message: string): Uint8Array {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
    `<Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;
  const reason = status === 503 ? "Slow Down" : status === 500 ? "Internal Server Error" : "Error";
  return encoder.encode(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/xml\r\n` +
      `Content-Length: ${encoder.encode(body).length}\r\nConnection: close\r\n\r\n${body}`,
  );
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
}

/** Reads a connection with look-ahead: a request head, then exactly its body. */
class BufferedReader {
  readonly #conn: Deno.Conn;
  #pending: Uint8Array = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** The bytes up to and including the blank line; undefined when the peer closed first. */
  async readHead(): Promise<Uint8Array | undefined> {
    for (;;) {
      const end = headEnd(this.#pending);
      if (end >= 0) {
        const head = this.#pending.slice(0, end);
        this.#pending = this.#pending.subarray(end);
        return head;
      }
      if (this.#pending.length > MAX_HEAD_BYTES) throw new RangeError("Request head too large");
      const more = await this.#read();
      if (more === undefined) return undefined;
      this.#pending = concat(this.#pending, more);
    }
  }

  /** Forwards exactly `length` bytes to `to`. */
  async copy(to: Deno.Conn, length: number): Promise<void> {
    let left = length;
    while (left > 0) {
      const chunk = await this.#take(left);
      if (chunk === undefined) throw new Error("The client closed mid-body");
      await writeAll(to, chunk);
      left -= chunk.length;
    }
  }

  /** Reads and drops `length` bytes, or until the peer closes. */
  async skip(length: number): Promise<void> {
    let left = length;
    while (left > 0) {
      const chunk = await this.#take(left);
      if (chunk === undefined) return;
      left -= chunk.length;
    }
  }

  /** Reads and drops everything until the peer closes, `ms` pass or `signal` fires. */
  async drain(ms: number, signal: AbortSignal): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const over = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
      onAbort = () => resolve(undefined);
      if (signal.aborted) onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
    });
    this.#pending = new Uint8Array(0);
    try {
      for (;;) {
        const reading = this.#read();
        // Left pending when time is up: it fails once the connection is closed, unobserved.
        reading.catch(() => {});
        const chunk = await Promise.race([reading, over]);
        if (chunk === undefined) return;
      }
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener("abort", onAbort);
    }
  }

  async #take(max: number): Promise<Uint8Array | undefined> {
    if (this.#pending.length === 0) {
      const more = await this.#read();
      if (more === undefined) return undefined;
      this.#pending = more;
    }
    const chunk = this.#pending.subarray(0, max);
    this.#pending = this.#pending.subarray(chunk.length);
    return chunk;
  }

  async #read(): Promise<Uint8Array | undefined> {
    const buffer = new Uint8Array(64 * 1024);
    const n = await this.#conn.read(buffer);
    return n === null ? undefined : buffer.subarray(0, n);
  }
}

function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) {
      return i + 1;
    }
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
