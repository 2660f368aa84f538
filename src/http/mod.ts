/**
 * Reading HTTP answers from servers we do not control with a size limit, so that a huge or
 * endless body is refused after `maxBytes` instead of filling memory. Time is bounded by the
 * signal given to `fetch`, which also aborts a body still arriving (a slow trickle).
 */
import { createRedactor } from "../log/mod.ts";

/** Options of {@linkcode readBody} and {@linkcode readText}. */
export interface ReadBodyOptions {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /** Who answered, named in the error: a URL or endpoint; credentials in it are masked. */
  source: string;
}

const maskCredentials = createRedactor([]);

/** An answer larger than the limit; its connection was dropped unread. */
export class ResponseTooLargeError extends RangeError {
  override name = "ResponseTooLargeError";
  /** The source as named in the message (credentials masked). */
  readonly source: string;
  /** The limit that was exceeded. */
  readonly maxBytes: number;
  /** The size the server declared in `content-length`, when it declared one. */
  readonly declaredBytes?: number;

  constructor(source: string, maxBytes: number, declaredBytes?: number) {
    const masked = maskCredentials(source);
    const detail = declaredBytes === undefined
      ? `more than the limit of ${maxBytes} bytes arrived`
      : `it declares ${declaredBytes} bytes, more than the limit of ${maxBytes}`;
    super(`Cannot read the answer of "${masked}": ${detail}`);
    this.source = masked;
    this.maxBytes = maxBytes;
    if (declaredBytes !== undefined) this.declaredBytes = declaredBytes;
  }
}

/**
 * The whole body of `response`, or a {@linkcode ResponseTooLargeError} as soon as it is larger
 * than `maxBytes` (by its `content-length` or by what arrived); the body is always consumed or
 * cancelled.
 */
export async function readBody(
  response: Response,
  options: ReadBodyOptions,
): Promise<Uint8Array<ArrayBuffer>> {
  const { maxBytes, source } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`Invalid "maxBytes" ${maxBytes}: expected a whole number of bytes`);
  }
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (Number.isSafeInteger(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new ResponseTooLargeError(source, maxBytes, declared);
  }
  if (response.body === null) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) throw new ResponseTooLargeError(source, maxBytes);
      chunks.push(value);
    }
  } catch (error) {
    await reader.cancel(error).catch(() => {});
    throw error;
  }
  return await new Blob(chunks).bytes();
}

/** {@linkcode readBody} decoded as UTF-8 (bad bytes become U+FFFD). */
export async function readText(response: Response, options: ReadBodyOptions): Promise<string> {
  return new TextDecoder().decode(await readBody(response, options));
}
