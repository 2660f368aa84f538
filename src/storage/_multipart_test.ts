import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type MultipartTarget, UploadFailure, uploadStream } from "./_multipart.ts";
import { delay } from "./_async.ts";

interface FakeOptions {
  /** Part number → failures to produce before it succeeds (Infinity: never). */
  failures?: Map<number, number>;
  retryable?: boolean;
  partDelayMs?: number;
}

/** An in-memory multipart target that records what happened. */
class FakeTarget implements MultipartTarget<number> {
  readonly parts = new Map<number, Uint8Array>();
  readonly calls: string[] = [];
  object: Uint8Array | undefined;
  aborted: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** Part requests aborted while in flight. */
  cut = 0;
  completedBytes = 0;
  readonly #options: FakeOptions;

  constructor(options: FakeOptions = {}) {
    this.#options = options;
  }

  putObject(put: { bytes: Uint8Array; sha256: string }): Promise<string> {
    this.calls.push("put");
    // The target signs it as the payload hash: the server refuses bytes that do not match.
    assert.equal(put.sha256, sha256(put.bytes));
    this.object = put.bytes.slice();
    return Promise.resolve('"single"');
  }

  createUpload(): Promise<string> {
    this.calls.push("create");
    return Promise.resolve("upload-1");
  }

  async uploadPart(
    uploadId: string,
    part: { number: number; bytes: Uint8Array; sha256: string },
    signal: AbortSignal,
  ): Promise<number> {
    assert.equal(uploadId, "upload-1");
    assert.equal(part.sha256, sha256(part.bytes));
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      try {
        await delay(this.#options.partDelayMs ?? 1, signal);
      } catch (error) {
        this.cut++;
        throw error;
      }
      const left = this.#options.failures?.get(part.number) ?? 0;
      if (left > 0) {
        this.#options.failures?.set(part.number, left - 1);
        throw Object.assign(new Error(`part ${part.number} broke`), { code: "InternalError" });
      }
      // Copy: the uploader reuses the buffer once the part is stored.
      this.parts.set(part.number, part.bytes.slice());
      this.completedBytes += part.bytes.length;
      return part.number;
    } finally {
      this.inFlight--;
    }
  }

  completeUpload(uploadId: string, parts: readonly number[]): Promise<string> {
    this.calls.push(`complete ${parts.join(",")}`);
    const total = [...this.parts.values()].reduce((sum, p) => sum + p.length, 0);
    const object = new Uint8Array(total);
    let offset = 0;
    for (const number of parts) {
      const bytes = this.parts.get(number) ?? new Uint8Array();
      object.set(bytes, offset);
      offset += bytes.length;
    }
    this.object = object;
    return Promise.resolve(`"${uploadId}-${parts.length}"`);
  }

  abortUpload(uploadId: string): Promise<void> {
    this.aborted.push(uploadId);
    return Promise.resolve();
  }

  isRetryable(): boolean {
    return this.#options.retryable ?? true;
  }
}

/** Deterministic bytes, emitted in chunks of `chunk` bytes; `failAt` errors the stream. */
function source(
  size: number,
  options: { chunk?: number; failAt?: number; onPull?: (sent: number) => void } = {},
): { stream: ReadableStream<Uint8Array>; data: Uint8Array; cancelled: () => unknown } {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
  const chunk = options.chunk ?? 1000;
  let offset = 0;
  let cancelled: unknown;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      options.onPull?.(offset);
      if (options.failAt !== undefined && offset >= options.failAt) {
        controller.error(new Error("source broke"));
      } else if (offset >= size) {
        controller.close();
      } else {
        controller.enqueue(data.slice(offset, offset + chunk));
        offset += chunk;
      }
    },
    cancel(reason) {
      cancelled = reason ?? "cancelled";
    },
  }, { highWaterMark: 0 });
  return { stream, data, cancelled: () => cancelled };
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

const fast = { retries: 3, retryBaseMs: 1 };

Deno.test("uploadStream() sends a stream smaller than one part in one put", async () => {
  const target = new FakeTarget();
  const { stream, data } = source(2500);
  const result = await uploadStream(stream, target, { ...fast, partSize: 4096, concurrency: 2 });
  assert.deepEqual(result, { size: 2500, sha256: sha256(data), etag: '"single"', parts: 0 });
  assert.deepEqual(target.calls, ["put"]);
  assert.deepEqual(target.object, data);
});

Deno.test("uploadStream() cuts a stream into parts across chunk boundaries", async () => {
  for (const size of [4096, 4097, 3 * 4096, 10_000]) {
    const target = new FakeTarget();
    const { stream, data } = source(size, { chunk: 1500 });
    const progress: number[] = [];
    const result = await uploadStream(stream, target, {
      ...fast,
      partSize: 4096,
      concurrency: 3,
      onProgress: (bytes) => progress.push(bytes),
    });
    const parts = Math.ceil(size / 4096);
    assert.equal(result.sha256, sha256(data), `size ${size}`);
    assert.equal(result.size, size);
    assert.deepEqual(target.object, data, `size ${size}`);
    if (parts === 1) {
      assert.deepEqual(target.calls, ["put"], `size ${size}: exactly one part is one put`);
    } else {
      assert.equal(result.parts, parts);
      assert.deepEqual(
        target.calls.at(-1),
        `complete ${[...Array(parts).keys()].map((i) => i + 1)}`,
      );
      // No empty trailing part, every part but the last full.
      assert.ok([...target.parts.values()].every((p, i) => p.length === 4096 || i === parts - 1));
    }
    assert.equal(progress.at(-1), size);
  }
});

/** Like {@linkcode source}, as a byte stream that fills the reader's buffers (as stdin does). */
function byteSource(size: number, chunk: number): { stream: ReadableStream; data: Uint8Array } {
  const { data } = source(size);
  let offset = 0;
  const stream = new ReadableStream({
    type: "bytes",
    pull(controller) {
      const request = controller.byobRequest;
      if (offset >= size) {
        controller.close();
        request?.respond(0);
        return;
      }
      const take = Math.min(chunk, size - offset, request?.view?.byteLength ?? chunk);
      const bytes = data.subarray(offset, offset + take);
      offset += take;
      if (request?.view) {
        new Uint8Array(request.view.buffer, request.view.byteOffset, take).set(bytes);
        request.respond(take);
      } else {
        controller.enqueue(bytes.slice());
      }
    },
  });
  return { stream, data };
}

Deno.test("uploadStream() reads a byte stream straight into its parts, whole and in order", async () => {
  for (const size of [0, 2500, 4096, 4097, 3 * 4096, 10_000]) {
    for (const chunk of [1000, 4096, 5000]) {
      const target = new FakeTarget();
      const { stream, data } = byteSource(size, chunk);
      const result = await uploadStream(stream as ReadableStream<Uint8Array>, target, {
        ...fast,
        partSize: 4096,
        concurrency: 2,
      });
      const where = `size ${size}, chunks of ${chunk}`;
      assert.equal(result.size, size, where);
      assert.equal(result.sha256, sha256(data), where);
      assert.deepEqual(target.object, data, where);
      const parts = [...target.parts.values()];
      assert.ok(parts.every((p, i) => p.length === 4096 || i === parts.length - 1), where);
      assert.ok(parts.every((p) => p.length > 0), `${where}: no empty part`);
    }
  }
});

Deno.test("uploadStream() takes the object's hash from the producer's digest when given", async () => {
  for (const size of [2500, 3 * 4096 + 7]) {
    const target = new FakeTarget();
    const { stream, data } = source(size, { chunk: 1500 });
    let asked = 0;
    const result = await uploadStream(stream, target, {
      ...fast,
      partSize: 4096,
      concurrency: 2,
      bodyDigest: () => {
        asked++;
        return Promise.resolve({ size, sha256: sha256(data) });
      },
    });
    assert.equal(asked, 1);
    assert.equal(result.sha256, sha256(data), `size ${size}`);
    assert.deepEqual(target.object, data, `size ${size}`);
  }
});

Deno.test("uploadStream() aborts instead of completing when the producer's digest disagrees", async () => {
  for (
    const [size, digest] of [
      [3 * 4096 + 7, { size: 3 * 4096, sha256: "0".repeat(64) }],
      [2500, { size: 2500, sha256: "0".repeat(64) }],
    ] as const
  ) {
    const target = new FakeTarget();
    const { stream } = source(size);
    const error = await uploadStream(stream, target, {
      ...fast,
      partSize: 4096,
      concurrency: 2,
      bodyDigest: () => Promise.resolve(digest),
    }).then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof UploadFailure, `size ${size}`);
    assert.equal(error.step, "read");
    assert.ok(error.cause instanceof RangeError);
    assert.equal(target.object, undefined, "nothing was stored");
    assert.ok(!target.calls.some((call) => call.startsWith("complete") || call === "put"));
    if (size > 4096) assert.deepEqual(target.aborted, ["upload-1"]);
  }
});

Deno.test("uploadStream() runs a full garbage collection each time collectEveryBytes were stored", async () => {
  // V8's gc(), there with --v8-flags=--expose-gc as the snapcron tasks run; counted here.
  const holder = globalThis as { gc?: () => void };
  const real = holder.gc;
  let collections = 0;
  holder.gc = () => collections++;
  try {
    const target = new FakeTarget();
    const { stream, data } = source(10 * 4096, { chunk: 4096 });
    const result = await uploadStream(stream, target, {
      ...fast,
      partSize: 4096,
      concurrency: 2,
      collectEveryBytes: 3 * 4096,
    });
    assert.equal(result.sha256, sha256(data));
    // 10 parts stored: after the 3rd, 6th and 9th.
    assert.equal(collections, 3);
  } finally {
    if (real === undefined) delete holder.gc;
    else holder.gc = real;
  }
});

Deno.test("uploadStream() keeps at most `concurrency` parts in flight and stops reading meanwhile", async () => {
  const partSize = 4096;
  const concurrency = 3;
  const target = new FakeTarget({ partDelayMs: 5 });
  let maxAhead = 0;
  const { stream, data } = source(60 * partSize, {
    chunk: 512,
    onPull: (sent) => (maxAhead = Math.max(maxAhead, sent - target.completedBytes)),
  });
  const result = await uploadStream(stream, target, { ...fast, partSize, concurrency });
  assert.equal(result.parts, 60);
  assert.deepEqual(target.object, data);
  assert.equal(target.maxInFlight, concurrency);
  // Parts in flight plus the one being filled, plus the chunk peeked to spot the end.
  assert.ok(maxAhead <= partSize * (concurrency + 1) + 512, `read ${maxAhead} bytes ahead`);
});

Deno.test("uploadStream() retries a failing part and then succeeds", async () => {
  const target = new FakeTarget({ failures: new Map([[2, 2]]) });
  const { stream, data } = source(5 * 4096);
  const result = await uploadStream(stream, target, { ...fast, partSize: 4096, concurrency: 2 });
  assert.equal(result.sha256, sha256(data));
  assert.deepEqual(target.aborted, []);
});

Deno.test("uploadStream() aborts the upload and cancels the source when a part keeps failing", async () => {
  const target = new FakeTarget({ failures: new Map([[3, Infinity]]) });
  const { stream, cancelled } = source(50 * 4096);
  const error = await uploadStream(stream, target, { ...fast, partSize: 4096, concurrency: 2 })
    .then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof UploadFailure);
  assert.equal(error.step, "part");
  assert.equal(error.partNumber, 3);
  assert.equal(error.attempts, 4);
  assert.equal(error.uploadId, "upload-1");
  assert.match(String((error.cause as Error).message), /part 3 broke/);
  assert.deepEqual(target.aborted, ["upload-1"]);
  assert.ok(cancelled() instanceof UploadFailure, "the source was not cancelled");
  assert.ok(!target.calls.some((call) => call.startsWith("complete")));
});

Deno.test("uploadStream() does not retry a failure the target calls final", async () => {
  const target = new FakeTarget({ failures: new Map([[1, 1]]), retryable: false });
  const { stream } = source(3 * 4096);
  const error = await uploadStream(stream, target, { ...fast, partSize: 4096, concurrency: 2 })
    .then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof UploadFailure);
  assert.equal(error.attempts, 1);
  assert.deepEqual(target.aborted, ["upload-1"]);
});

Deno.test("uploadStream() aborts the upload when the source fails midway", async () => {
  const target = new FakeTarget();
  const { stream } = source(20 * 4096, { failAt: 9 * 4096 });
  const error = await uploadStream(stream, target, { ...fast, partSize: 4096, concurrency: 2 })
    .then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof UploadFailure);
  assert.equal(error.step, "read");
  assert.match(String((error.cause as Error).message), /source broke/);
  assert.deepEqual(target.aborted, ["upload-1"]);
});

Deno.test("uploadStream() aborts the upload when the signal fires", async () => {
  const target = new FakeTarget({ partDelayMs: 20 });
  const controller = new AbortController();
  const { stream, cancelled } = source(100 * 4096, {
    onPull: (sent) => {
      if (sent >= 6 * 4096) controller.abort(new Error("shutting down"));
    },
  });
  const error = await uploadStream(stream, target, {
    ...fast,
    partSize: 4096,
    concurrency: 2,
    signal: controller.signal,
  }).then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof UploadFailure);
  assert.equal(error.step, "aborted");
  assert.equal((error.cause as Error).message, "shutting down");
  assert.deepEqual(target.aborted, ["upload-1"]);
  assert.equal(target.inFlight, 0, "abort came before the parts in flight settled");
  assert.equal(target.cut, 0, "parts in flight were cut although they had time to finish");
  assert.ok(cancelled() !== undefined);
});

Deno.test("uploadStream() cuts parts still in flight when the grace period is over", async () => {
  const target = new FakeTarget({ partDelayMs: 10_000 });
  const controller = new AbortController();
  const { stream } = source(100 * 4096);
  // Both parts are in flight by then, and stay there for 10 s unless cut.
  const timer = setTimeout(() => controller.abort(new Error("timeout")), 100);
  const started = Date.now();
  const error = await uploadStream(stream, target, {
    ...fast,
    partSize: 4096,
    concurrency: 2,
    signal: controller.signal,
    inFlightGraceMs: 50,
  }).then(() => undefined, (error: unknown) => error);
  clearTimeout(timer);
  assert.ok(Date.now() - started < 5000, "the grace period was not applied");
  assert.ok(error instanceof UploadFailure);
  assert.equal(error.step, "aborted");
  assert.equal(target.cut, 2);
  assert.equal(target.inFlight, 0);
  assert.deepEqual(target.aborted, ["upload-1"]);
});

Deno.test("uploadStream() stops at the part limit with the upload aborted", async () => {
  const target = new FakeTarget();
  const { stream } = source(3 * 4096 + 1);
  const error = await uploadStream(stream, target, {
    ...fast,
    partSize: 4096,
    concurrency: 2,
    maxParts: 3,
  }).then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof UploadFailure);
  assert.equal(error.step, "limit");
  assert.deepEqual(target.aborted, ["upload-1"]);

  const exact = new FakeTarget();
  const fits = source(3 * 4096);
  const result = await uploadStream(fits.stream, exact, {
    ...fast,
    partSize: 4096,
    concurrency: 2,
    maxParts: 3,
  });
  assert.equal(result.parts, 3);
});

Deno.test("uploadStream() rejects chunks that are not bytes", async () => {
  const target = new FakeTarget();
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue("text" as unknown as Uint8Array);
      controller.close();
    },
  });
  const error = await uploadStream(stream, target, { ...fast, partSize: 4096, concurrency: 1 })
    .then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof UploadFailure);
  assert.ok(error.cause instanceof TypeError);
});

/** A target whose answers to put and complete get lost after the server acted on them. */
class LostAnswerTarget extends FakeTarget {
  override async putObject(
    put: { bytes: Uint8Array; sha256: string },
  ): Promise<string> {
    await super.putObject(put);
    throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
  }

  override async completeUpload(uploadId: string, parts: readonly number[]): Promise<string> {
    await super.completeUpload(uploadId, parts);
    throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
  }

  findPut(put: { sha256: string }): Promise<string | undefined> {
    this.calls.push("find put");
    const found = this.object !== undefined && sha256(this.object) === put.sha256;
    return Promise.resolve(found ? '"found"' : undefined);
  }

  findCompleted(parts: readonly number[], size: number): Promise<string | undefined> {
    this.calls.push(`find ${parts.join(",")}`);
    return Promise.resolve(this.object?.length === size ? '"found-2"' : undefined);
  }
}

Deno.test("uploadStream() keeps an object whose put or complete answer got lost", async () => {
  for (const size of [2500, 2 * 4096 + 10]) {
    const target = new LostAnswerTarget();
    const { stream, data } = source(size);
    const result = await uploadStream(stream, target, { ...fast, partSize: 4096, concurrency: 2 });
    assert.equal(result.sha256, sha256(data));
    assert.ok(result.etag === '"found"' || result.etag === '"found-2"', `etag ${result.etag}`);
    assert.deepEqual(target.object, data);
    assert.deepEqual(target.aborted, [], "an assembled object is not undone");
    assert.match(target.calls.at(-1) ?? "", /^find /);
  }
});

Deno.test("uploadStream() fails and aborts when a lost complete assembled nothing", async () => {
  const target = new LostAnswerTarget();
  target.findCompleted = () => Promise.resolve(undefined);
  const { stream } = source(2 * 4096 + 10);
  const error = await uploadStream(stream, target, { ...fast, partSize: 4096, concurrency: 2 })
    .then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof UploadFailure);
  assert.equal(error.step, "complete");
  assert.deepEqual(target.aborted, ["upload-1"]);
});
