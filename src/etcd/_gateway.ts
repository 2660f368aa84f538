/**
 * The JSON gateway's snapshot stream: one JSON object per line, `{"result":{…}}` with a base64
 * blob and `remaining_bytes` as a decimal string (omitted when 0), or `{"error":{…}}` when etcd
 * fails after the HTTP status was already sent.
 */
import { EtcdError, grpcCodeName } from "./_errors.ts";
import type { SnapshotChunk } from "./_protobuf.ts";

const NEWLINE = 0x0a;
const decoder = new TextDecoder();

/** Splits the gateway's byte stream into lines and decodes each into a snapshot chunk. */
export class GatewayDecoder {
  #pending: Uint8Array[] = [];
  #line = 0;

  /** Returns the chunks of the lines completed by `chunk`; throws on an error line. */
  push(chunk: Uint8Array): SnapshotChunk[] {
    const chunks: SnapshotChunk[] = [];
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline < 0) break;
      const piece = chunk.subarray(start, newline);
      const line = this.#pending.length === 0 ? piece : concat([...this.#pending, piece]);
      this.#pending = [];
      const decoded = this.#decodeLine(line);
      if (decoded !== undefined) chunks.push(decoded);
      start = newline + 1;
    }
    // Copied: the caller's buffer is not ours to keep.
    if (start < chunk.length) this.#pending.push(chunk.slice(start));
    return chunks;
  }

  /** Decodes a last line without a newline, if any. */
  end(): SnapshotChunk[] {
    if (this.#pending.length === 0) return [];
    const line = concat(this.#pending);
    this.#pending = [];
    const decoded = this.#decodeLine(line);
    return decoded === undefined ? [] : [decoded];
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
