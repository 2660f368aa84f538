/**
 * Streaming multipart upload of a stream of unknown length, independent of the S3 client: the
 * stream is cut into part-size buffers, at most `concurrency` parts are in flight and nothing more
 * is read while they are, so memory stays below `partSize * (concurrency + 1)`. Any failure or
 * abort cancels the source, lets the parts in flight finish (cutting them after a grace period)
 * and only then aborts the upload: a part the server is still writing when the abort arrives
 * outlives it (S3 says so; s3proxy then cannot remove it at all).
 *
 * Hashing is the CPU cost of an upload, so every byte is hashed twice and no more: once for the
 * object's SHA-256 (or not at all when the producer already hashed it, see `bodyDigest`), once
 * for its part's SHA-256, which the target sends as the signed payload hash that the server
 * checks (so no Content-MD5, which cost three times as much in Deno).
 */
import { createHash, type Hash } from "node:crypto";
import { backoffMs, delay, raceAbort } from "./_async.ts";

/**
 * A full garbage collection by V8's `gc()`, there when the process runs with
 * `--v8-flags=--expose-gc` (the snapcron tasks, the compiled binary and the image do); without
 * the flag, nothing.
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A whole object smaller than one part, sent in one request. */
export interface SinglePut {
  bytes: Uint8Array;
  /** Hex SHA-256 of `bytes`: the object's hash and the payload hash the server checks. */
  sha256: string;
}

/** One part of a multipart upload. */
export interface PartUpload {
  /** 1-based. */
  number: number;
  bytes: Uint8Array;
  /** Hex SHA-256 of `bytes`, for the payload hash the server checks. */
  sha256: string;
}

/** The requests a multipart upload needs; `P` is what the target keeps per uploaded part. */
export interface MultipartTarget<P> {
  /** Stores the whole object; returns its ETag. */
  putObject(put: SinglePut, signal: AbortSignal): Promise<string | undefined>;
  /** Starts a multipart upload; returns its id. */
  createUpload(signal: AbortSignal): Promise<string>;
  uploadPart(uploadId: string, part: PartUpload, signal: AbortSignal): Promise<P>;
  /** Assembles the parts (in part order); returns the object's ETag. */
  completeUpload(
    uploadId: string,
    parts: readonly P[],
    signal: AbortSignal,
  ): Promise<string | undefined>;
  /**
   * After a failed put, the ETag of the object when the server stored exactly these bytes anyway
   * (its answer was lost to a reset or a timeout), else undefined.
   */
  findPut?(put: SinglePut): Promise<string | undefined>;
  /** After a failed complete, like {@linkcode findPut}: the object assembled from `parts`. */
  findCompleted?(parts: readonly P[], size: number): Promise<string | undefined>;
  /** Discards the upload and its parts; runs after the caller's signal was aborted. */
  abortUpload(uploadId: string): Promise<void>;
  /** Whether a failed put or part is worth sending again. */
  isRetryable(error: unknown): boolean;
}

/** Options of {@linkcode uploadStream}. */
export interface UploadStreamOptions {
  partSize: number;
  concurrency: number;
  /** Extra attempts for a part (or the single put) after a retryable failure. */
  retries: number;
  /** 10,000 for S3. */
  maxParts?: number;
  /** First backoff between attempts (jittered, doubling); 250 ms. */
  retryBaseMs?: number;
  /** After a failure or abort, how long parts in flight may finish before they are cut; 10 s. */
  inFlightGraceMs?: number;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
  /**
   * The body's size and hex SHA-256 from its producer, asked for once the body ended (see
   * `PutOptions.bodyDigest`): the bytes are then not hashed a second time for the object's hash.
   */
  bodyDigest?: () => Promise<BodyDigest>;
  /**
   * Bytes stored between two full garbage collections; 128 MiB. Each part's requests leave
   * objects that live through several young-generation collections and so reach the old
   * generation, which V8 collects only once it reaches its limit: until then an upload's RSS
   * climbs by about 1 MiB per 128 MiB stored. Collecting early keeps the peak flat
   * (docs/benchmarks.md, s3_upload).
   */
  collectEveryBytes?: number;
}

/** A body's size and hex SHA-256 as its producer computed them. */
export interface BodyDigest {
  size: number;
  sha256: string;
}

/** What {@linkcode uploadStream} stored. */
export interface UploadStreamResult {
  size: number;
  sha256: string;
  etag?: string;
  /** 0 for a single put. */
  parts: number;
}

/** Where an upload failed: reading the source, one of the requests, the part limit or an abort. */
export type UploadStep = "read" | "put" | "create" | "part" | "complete" | "limit" | "aborted";

/** Options of {@linkcode UploadFailure}. */
export interface UploadFailureOptions {
  partNumber?: number;
  attempts?: number;
  cause: unknown;
}

/** Why {@linkcode uploadStream} failed; by the time it is thrown the upload has been aborted. */
export class UploadFailure extends Error {
  readonly step: UploadStep;
  readonly partNumber: number | undefined;
  readonly attempts: number;
  /** The multipart upload's id, when one was started. */
  uploadId: string | undefined;
  /** Set when aborting the multipart upload failed too: parts may remain. */
  abortError: unknown;

  /** `cause` is the underlying error (the S3 error, the source's error or the abort reason). */
  constructor(step: UploadStep, options: UploadFailureOptions) {
    super(`Upload failed at step "${step}"`, { cause: options.cause });
    this.name = "UploadFailure";
    this.step = step;
    this.partNumber = options.partNumber;
    this.attempts = options.attempts ?? 1;
  }
}

/** Base64 MD5, the `Content-MD5` header value. */
export function md5Base64(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("base64");
}

/** Uploads `body` through `target`: one put when it fits in one part, else a multipart upload. */
export async function uploadStream<P>(
  body: ReadableStream<Uint8Array>,
  target: MultipartTarget<P>,
  options: UploadStreamOptions,
): Promise<UploadStreamResult> {
  const { partSize, concurrency } = options;
  const maxParts = options.maxParts ?? 10_000;
  const userSignal = options.signal;
  // Aborted by the caller's signal or by the first failure: read nothing more, retry nothing.
  const stop = new AbortController();
  // Aborted once the grace period after `stop` is over: cut the part requests in flight.
  const cut = new AbortController();
  const onUserAbort = () => stop.abort(userSignal?.reason);
  userSignal?.addEventListener("abort", onUserAbort, { once: true });

  const bodyDigest = options.bodyDigest;
  const collectEvery = options.collectEveryBytes ?? 128 * 1024 * 1024;
  const hash = bodyDigest === undefined ? createHash("sha256") : undefined;
  const reader = new PartReader(body, partSize, hash);
  const pending = new Set<Promise<void>>();
  const parts: P[] = [];
  let stored = 0;
  let uncollected = 0;
  let uploadId: string | undefined;
  let partFailure: UploadFailure | undefined;
  let step: UploadStep = "read";

  function progress(bytes: number): void {
    stored += bytes;
    try {
      options.onProgress?.(stored);
    } catch {
      // A broken progress display must not fail a backup.
    }
  }

  function retry<T>(fn: () => Promise<T>, counter: { attempts: number }): Promise<T> {
    return withRetries(fn, counter, {
      retries: options.retries,
      baseMs: options.retryBaseMs ?? 250,
      isRetryable: (error) => target.isRetryable(error),
      signal: stop.signal,
    });
  }

  /** The object's SHA-256, once the body was read to its end. */
  async function objectSha256(): Promise<string> {
    if (hash !== undefined) return hash.digest("hex");
    const known = await bodyDigest!();
    if (known.size !== reader.size) {
      throw new RangeError(
        `The body's producer counted ${known.size} bytes where the upload read ${reader.size}`,
      );
    }
    return known.sha256;
  }

  function startPart(id: string, number: number, filled: FilledPart): Promise<void> {
    const bytes = filled.buffer.subarray(0, filled.length);
    const part = { number, bytes, sha256: filled.sha256 };
    const counter = { attempts: 0 };
    const running = retry(() => target.uploadPart(id, part, cut.signal), counter).then(
      (uploaded) => {
        parts[number - 1] = uploaded;
        reader.release(filled.buffer);
        progress(filled.length);
        uncollected += filled.length;
        if (uncollected >= collectEvery) {
          uncollected = 0;
          collectGarbage();
        }
      },
      (cause) => {
        // Parts cut short by an earlier failure or an abort are not the story.
        if (stop.signal.aborted) return;
        partFailure = new UploadFailure("part", {
          partNumber: number,
          attempts: counter.attempts,
          cause,
        });
        stop.abort(partFailure);
      },
    ).finally(() => pending.delete(running));
    pending.add(running);
    return running;
  }

  try {
    if (userSignal?.aborted) throw userSignal.reason;
    let filled = await reader.next(stop.signal);
    if (filled.last) {
      const bytes = filled.buffer.subarray(0, filled.length);
      const sha256 = await objectSha256();
      if (sha256 !== filled.sha256) {
        throw new RangeError(
          `The body's producer reports SHA-256 ${sha256} where the upload read ${filled.sha256}`,
        );
      }
      step = "put";
      const put = { bytes, sha256 };
      const counter = { attempts: 0 };
      let etag: string | undefined;
      try {
        etag = await retry(() => target.putObject(put, stop.signal), counter);
      } catch (cause) {
        if (userSignal?.aborted) throw cause;
        // A put whose answer got lost may have stored the object: a failure reported over a
        // whole object orphans it.
        etag = await target.findPut?.(put).catch(() => undefined);
        if (etag === undefined) {
          throw new UploadFailure("put", { attempts: counter.attempts, cause });
        }
      }
      progress(filled.length);
      return withEtag({ size: reader.size, sha256, parts: 0 }, etag);
    }
    step = "create";
    // Not cut by an abort either: an upload created unseen could not be aborted.
    const id = await target.createUpload(cut.signal);
    uploadId = id;
    stop.signal.throwIfAborted();
    for (let number = 1;; number++) {
      if (number === maxParts && !filled.last) {
        step = "limit";
        throw new RangeError(`The stream needs more than ${maxParts} parts`);
      }
      startPart(id, number, filled);
      if (filled.last) break;
      while (pending.size >= concurrency) await raceAbort(Promise.race(pending), stop.signal);
      if (partFailure !== undefined) throw partFailure;
      step = "read";
      filled = await reader.next(stop.signal);
    }
    step = "part";
    await raceAbort(Promise.all(pending), stop.signal);
    if (partFailure !== undefined) throw partFailure;
    // Before completing: a producer's digest that disagrees must not leave an object behind.
    step = "read";
    const sha256 = await objectSha256();
    step = "complete";
    let etag: string | undefined;
    try {
      // Not cut by an abort: once sent, completing is quicker than undoing.
      etag = await target.completeUpload(id, parts, cut.signal);
    } catch (error) {
      // The server may have assembled the object and only its answer got lost: aborting now
      // would not undo that, and a failure reported over a whole object orphans it.
      const found = await target.findCompleted?.(parts, reader.size).catch(() => undefined);
      if (found === undefined) throw error;
      etag = found;
    }
    return withEtag({ size: reader.size, sha256, parts: parts.length }, etag);
  } catch (error) {
    const failure = error instanceof UploadFailure
      ? error
      : userSignal?.aborted
      ? new UploadFailure("aborted", { cause: userSignal.reason })
      : new UploadFailure(step, { cause: error });
    if (!stop.signal.aborted) stop.abort(failure);
    await reader.cancel(failure);
    // Abort only once no part is in flight, or a part landing late would outlive the abort.
    const grace = new AbortController();
    const settled = Promise.allSettled([...pending]);
    await Promise.race([settled, delay(options.inFlightGraceMs ?? 10_000, grace.signal)])
      .catch(() => {});
    grace.abort();
    cut.abort(failure);
    await settled;
    failure.uploadId = uploadId;
    if (uploadId !== undefined) {
      try {
        await target.abortUpload(uploadId);
      } catch (abortError) {
        failure.abortError = abortError;
      }
    }
    throw failure;
  } finally {
    userSignal?.removeEventListener("abort", onUserAbort);
    reader.releaseLock();
  }
}

function withEtag(
  result: UploadStreamResult,
  etag: string | undefined,
): UploadStreamResult {
  if (etag !== undefined) result.etag = etag;
  return result;
}

interface RetryOptions {
  retries: number;
  baseMs: number;
  isRetryable: (error: unknown) => boolean;
  signal: AbortSignal;
}

async function withRetries<T>(
  fn: () => Promise<T>,
  counter: { attempts: number },
  options: RetryOptions,
): Promise<T> {
  for (let attempt = 0;; attempt++) {
    counter.attempts = attempt + 1;
    try {
      return await fn();
    } catch (error) {
      const again = attempt < options.retries && !options.signal.aborted &&
        options.isRetryable(error);
      if (!again) throw error;
    }
    await delay(backoffMs(attempt, options.baseMs), options.signal);
  }
}

/** One buffer filled from the stream; `last` is true when the stream has nothing more. */
interface FilledPart {
  buffer: Uint8Array;
  length: number;
  /** Hex SHA-256 of the filled bytes. */
  sha256: string;
  last: boolean;
}

/**
 * Cuts a byte stream into part-size buffers, recycles them, and hashes every byte for its part
 * and (without a producer's digest) for the whole object. A byte stream (standard input, a
 * child's output, a file) is read straight into the part buffers, which spares a copy and the
 * garbage of one buffer per chunk; other streams' chunks are copied in.
 */
class PartReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
  readonly #byob: boolean;
  readonly #partSize: number;
  readonly #hash: Hash | undefined;
  readonly #pool: Uint8Array[] = [];
  /** The unread tail of the last chunk read. */
  #leftover: Uint8Array | undefined;
  /** Where the memory of the view given to the last BYOB read is now. */
  #moved: ArrayBuffer | undefined;
  #done = false;
  size = 0;

  constructor(body: ReadableStream<Uint8Array>, partSize: number, hash: Hash | undefined) {
    let byob: ReadableStreamBYOBReader | undefined;
    try {
      byob = body.getReader({ mode: "byob" });
    } catch {
      // Not a byte stream: read its chunks.
    }
    this.#reader = byob ?? body.getReader();
    this.#byob = byob !== undefined;
    this.#partSize = partSize;
    this.#hash = hash;
  }

  /**
   * Fills the next buffer; a full buffer is `last` only when the stream ends right after it.
   * The part's hash is computed piece by piece: in one go it would block the event loop for
   * tens of ms a part.
   */
  async next(signal: AbortSignal): Promise<FilledPart> {
    let buffer = this.#pool.pop() ?? new Uint8Array(this.#partSize);
    const partHash = createHash("sha256");
    let length = 0;
    let last = false;
    while (length < this.#partSize) {
      const leftover = this.#leftover;
      this.#leftover = undefined;
      let piece: Uint8Array | undefined;
      if (leftover === undefined && this.#byob) {
        piece = await this.#readInto(buffer.subarray(length), signal);
        // The read moved the buffer's memory into a new ArrayBuffer, also when it hit the end.
        buffer = new Uint8Array(this.#moved!, 0, this.#partSize);
      } else {
        const chunk = leftover ?? await this.#read(signal);
        if (chunk !== undefined) {
          const take = Math.min(chunk.length, this.#partSize - length);
          piece = take === chunk.length ? chunk : chunk.subarray(0, take);
          buffer.set(piece, length);
          if (take < chunk.length) this.#leftover = chunk.subarray(take);
        }
      }
      if (piece === undefined) {
        last = true;
        break;
      }
      partHash.update(piece);
      length += piece.length;
    }
    // Look ahead so that an empty last part is never sent; the bytes seen go to the next part.
    if (!last && this.#leftover === undefined) {
      this.#leftover = this.#byob
        ? await this.#readInto(new Uint8Array(64 * 1024), signal)
        : await this.#read(signal);
      last = this.#leftover === undefined;
    }
    return { buffer, length, sha256: partHash.digest("hex"), last };
  }

  /** Gives a buffer whose part has been stored back for reuse. */
  release(buffer: Uint8Array): void {
    this.#pool.push(buffer);
  }

  /** Cancels the source unless it was read to its end. */
  async cancel(reason: unknown): Promise<void> {
    this.#leftover = undefined;
    if (this.#done) return;
    this.#done = true;
    try {
      await this.#reader.cancel(reason);
    } catch {
      // The source already failed; that error is the one reported.
    }
  }

  releaseLock(): void {
    try {
      this.#reader.releaseLock();
    } catch {
      // A read still pending after an abort keeps the lock; the stream is cancelled anyway.
    }
  }

  /** The next non-empty chunk, counted and hashed for the object; undefined at the end. */
  async #read(signal: AbortSignal): Promise<Uint8Array | undefined> {
    while (!this.#done) {
      const reader = this.#reader as ReadableStreamDefaultReader<Uint8Array>;
      const result = await raceAbort(reader.read(), signal);
      if (result.done) {
        this.#done = true;
        return undefined;
      }
      const chunk: unknown = result.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError(`The stream yielded ${typeof chunk} instead of Uint8Array chunks`);
      }
      if (chunk.length === 0) continue;
      this.#counted(chunk);
      return chunk;
    }
    return undefined;
  }

  /**
   * Reads into `view`: the bytes read, undefined at the end. The read moves the memory of
   * `view` into a new ArrayBuffer, left in `#moved`.
   */
  async #readInto(view: Uint8Array, signal: AbortSignal): Promise<Uint8Array | undefined> {
    this.#moved = view.buffer as ArrayBuffer;
    while (!this.#done) {
      const reader = this.#reader as ReadableStreamBYOBReader;
      const result = await raceAbort(reader.read(view), signal);
      if (result.value !== undefined) this.#moved = result.value.buffer as ArrayBuffer;
      if (result.done) {
        this.#done = true;
        return undefined;
      }
      if (result.value.length === 0) {
        view = new Uint8Array(result.value.buffer, result.value.byteOffset, view.length);
        continue;
      }
      this.#counted(result.value);
      return result.value;
    }
    return undefined;
  }

  #counted(bytes: Uint8Array): void {
    this.#hash?.update(bytes);
    this.size += bytes.length;
  }
}
