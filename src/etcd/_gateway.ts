/**
 * The JSON gateway's snapshot stream: one JSON object per line, `{"result":{…}}` with a base64
 * blob and `remaining_bytes` as a decimal string (omitted when 0), or `{"error":{…}}` when etcd
 * fails after the HTTP status was already sent.
 */
import { readText, ResponseTooLargeError } from "../http/mod.ts";
import { EtcdError, grpcCodeName, markFailover } from "./_errors.ts";
import type { SnapshotChunk } from "./_protobuf.ts";

const NEWLINE = 0x0a;
const decoder = new TextDecoder();

/**
 * Longest line of the snapshot stream accepted: etcd's lines hold a base64 blob of at most
 * 32 KiB (about 44 KB of text), so anything near this is not etcd.
 */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Largest unary gateway answer read (status, auth, leases are a few hundred bytes). */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/** Options of {@linkcode GatewayDecoder}. */
export interface GatewayDecoderOptions {
  /** Longer lines are refused; defaults to {@linkcode MAX_LINE_BYTES}. */
  maxLineBytes?: number;
}

/** Splits the gateway's byte stream into lines and decodes each into a snapshot chunk. */
export class GatewayDecoder {
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #line = 0;
  readonly #maxLineBytes: number;

  constructor(options: GatewayDecoderOptions = {}) {
    this.#maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  }

  /** Returns the chunks of the lines completed by `chunk`; throws on an error line. */
  push(chunk: Uint8Array): SnapshotChunk[] {
    const chunks: SnapshotChunk[] = [];
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline < 0) break;
      const piece = chunk.subarray(start, newline);
      this.#checkLength(piece.length);
      const line = this.#pending.length === 0 ? piece : concat([...this.#pending, piece]);
      this.#pending = [];
      this.#pendingBytes = 0;
      const decoded = this.#decodeLine(line);
      if (decoded !== undefined) chunks.push(decoded);
      start = newline + 1;
    }
    if (start < chunk.length) {
      this.#checkLength(chunk.length - start);
      // Copied: the caller's buffer is not ours to keep.
      this.#pending.push(chunk.slice(start));
      this.#pendingBytes += chunk.length - start;
    }
    return chunks;
  }

  /** Decodes a last line without a newline, if any. */
  end(): SnapshotChunk[] {
    if (this.#pending.length === 0) return [];
    const line = concat(this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
    const decoded = this.#decodeLine(line);
    return decoded === undefined ? [] : [decoded];
  }

  /** Throws before a line that never ends can fill memory. */
  #checkLength(more: number): void {
    if (this.#pendingBytes + more <= this.#maxLineBytes) return;
    throw new EtcdError(
      `Line ${
        this.#line + 1
      } of the gateway snapshot stream is longer than the limit of ${this.#maxLineBytes} bytes (etcd sends lines of about 44 KB: is this an etcd client URL?)`,
      { code: "ResourceExhausted" },
    );
  }

  #decodeLine(bytes: Uint8Array): SnapshotChunk | undefined {
    this.#line++;
    const text = decoder.decode(bytes).trim();
    if (text === "") return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new EtcdError(
        `Cannot parse line ${this.#line} of the gateway snapshot stream as JSON: ${
          text.slice(0, 80)
        }`,
        { code: "Internal", cause },
      );
    }
    if (!isObject(value)) throw badLine(this.#line, "not a JSON object");
    if (value.error !== undefined) {
      const { code, message } = describeGatewayError(value);
      throw new EtcdError(`etcd reported an error in the middle of the snapshot: ${message}`, {
        ...(code === undefined ? {} : { code }),
      });
    }
    const result = value.result;
    if (!isObject(result)) throw badLine(this.#line, `no "result" object`);
    const blob = result.blob ?? "";
    if (typeof blob !== "string") throw badLine(this.#line, `"blob" is not a string`);
    const remaining = result.remaining_bytes ?? "0";
    const remainingBytes = Number(remaining);
    if (
      (typeof remaining !== "string" && typeof remaining !== "number") ||
      !Number.isSafeInteger(remainingBytes) || remainingBytes < 0
    ) {
      throw badLine(this.#line, `"remaining_bytes" is not a count: ${JSON.stringify(remaining)}`);
    }
    let data: Uint8Array;
    try {
      data = Uint8Array.fromBase64(blob);
    } catch (cause) {
      throw new EtcdError(`Line ${this.#line} of the gateway snapshot stream has a bad blob`, {
        code: "Internal",
        cause,
      });
    }
    return { remainingBytes, blob: data };
  }
}

/** A unary gateway answer: status, the body parsed as JSON (`undefined` if it is not), text. */
export interface GatewayAnswer {
  status: number;
  body: unknown;
  text: string;
}

/**
 * Reads a unary gateway answer of at most {@linkcode MAX_ANSWER_BYTES}; a larger one is an
 * `EtcdError` after which the next endpoint is worth a try. Time is bounded by the signal the
 * request was sent with.
 */
export async function readGatewayAnswer(
  response: Response,
  endpoint: string,
  what: string,
): Promise<GatewayAnswer> {
  let text: string;
  try {
    text = await readText(response, { maxBytes: MAX_ANSWER_BYTES, source: endpoint });
  } catch (error) {
    if (!(error instanceof ResponseTooLargeError)) throw error;
    const size = error.declaredBytes === undefined ? "" : ` (${error.declaredBytes} bytes)`;
    const reason = `answer${size} over the limit of ${MAX_ANSWER_BYTES} bytes`;
    throw markFailover(
      new EtcdError(
        `Cannot ${what} at "${endpoint}": ${reason} (is "${endpoint}" an etcd client URL?)`,
        { endpoint, code: "ResourceExhausted", cause: error },
      ),
      reason,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // Plain text from etcd's own checks, or HTML from a proxy: the caller reports the text.
  }
  return { status: response.status, body, text };
}

/**
 * Reads code and message out of a gateway error body, which comes as
 * `{"error":"…","code":14,"message":"…"}` (unary calls) or
 * `{"error":{"grpc_code":14,"http_code":503,"message":"…"}}` (streams).
 */
export function describeGatewayError(body: unknown): { code?: string; message: string } {
  if (!isObject(body)) return { message: "no error details" };
  const inner = isObject(body.error) ? body.error : body;
  const rawCode = inner.grpc_code ?? inner.code;
  const message = typeof inner.message === "string" && inner.message !== ""
    ? inner.message
    : typeof body.error === "string"
    ? body.error
    : "no error details";
  if (typeof rawCode === "number" || (typeof rawCode === "string" && /^\d+$/.test(rawCode))) {
    return { code: grpcCodeName(rawCode), message };
  }
  return { message };
}

function badLine(line: number, detail: string): EtcdError {
  return new EtcdError(`Line ${line} of the gateway snapshot stream is malformed: ${detail}`, {
    code: "Internal",
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
