/**
 * Turns a snapshot response body into the verified, pull-based stream handed to callers: one
 * network read per pull (so a slow consumer slows the download), an idle timeout per read,
 * and cancellation that reaches the connection.
 */
import { EtcdError } from "./_errors.ts";
import type { Deadline } from "./_deadline.ts";
import type { SnapshotChunk } from "./_protobuf.ts";
import { SnapshotVerifier } from "./_verify.ts";

/** Turns body bytes into snapshot chunks (gRPC frames or gateway lines). */
export interface ChunkDecoder {
  push(bytes: Uint8Array): SnapshotChunk[];
  end(): SnapshotChunk[];
}

/** What {@linkcode verifiedStream} needs. */
export interface VerifiedStreamParts {
  endpoint: string;
  /** Reader of the response body. */
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Bytes already read from `reader` (to see that data flows), handed out first. */
  first?: Uint8Array;
  decoder: ChunkDecoder;
  /** Aborts the request; re-armed for each read. */
  deadline: Deadline;
  /** The caller's signal: aborting it errors the stream with its reason. */
  signal: AbortSignal | undefined;
  /** Longest wait for the next bytes from etcd. */
  idleTimeoutMs: number;
}

/** A verified snapshot body and a promise of its size and hash. */
export interface VerifiedStream {
  body: ReadableStream<Uint8Array>;
  done: Promise<{ size: number; sha256: string }>;
}

/** Wraps a response body: decodes, verifies, and errors instead of closing when a check fails. */
export function verifiedStream(parts: VerifiedStreamParts): VerifiedStream {
  const { endpoint, decoder, deadline, signal, idleTimeoutMs } = parts;
  const reader = parts.reader;
  let first = parts.first;
  const verifier = new SnapshotVerifier();
  let settled = false;
  let resolveDone!: (value: { size: number; sha256: string }) => void;
  let rejectDone!: (reason: unknown) => void;
  const done = new Promise<{ size: number; sha256: string }>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // A caller that only reads the body must not get an unhandled rejection from `done`.
  done.catch(() => {});
  let streamController!: ReadableStreamDefaultController<Uint8Array>;

  function settle(error?: unknown): Promise<void> {
    settled = true;
    signal?.removeEventListener("abort", onAbort);
    deadline.dispose();
    if (error === undefined) return Promise.resolve();
    rejectDone(error);
    deadline.abort(error);
    return reader.cancel(error).catch(() => {});
  }

  function onAbort(): void {
    if (settled) return;
    const reason = signal?.reason;
    streamController.error(reason);
    void settle(reason);
  }

  function failure(error: unknown): unknown {
    if (signal?.aborted) return signal.reason;
    if (deadline.timedOut) {
      return new EtcdError(
        `Snapshot from "${endpoint}" stalled: no data for ${idleTimeoutMs} ms (raise timeoutMs if etcd is slow)`,
        { endpoint, code: "DeadlineExceeded", cause: error },
      );
    }
    if (error instanceof EtcdError) {
      return new EtcdError(`Snapshot from "${endpoint}" failed: ${lowerFirst(error.message)}`, {
        endpoint,
        ...(error.code === undefined ? {} : { code: error.code }),
        cause: error,
      });
    }
    const detail = error instanceof Error ? error.message : String(error);
    return new EtcdError(`Snapshot from "${endpoint}" failed: connection lost: ${detail}`, {
      endpoint,
      code: "Unavailable",
      cause: error,
    });
  }

  function emit(chunks: SnapshotChunk[]): boolean {
    let emitted = false;
    for (const chunk of chunks) {
      const out = verifier.push(chunk.blob, chunk.remainingBytes);
      if (out.length === 0) continue;
      streamController.enqueue(out);
      emitted = true;
    }
    return emitted;
  }

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      streamController = controller;
      signal?.addEventListener("abort", onAbort, { once: true });
    },
    async pull(controller) {
      try {
        // Read until something can be handed out: a read may end inside a frame or line.
        for (;;) {
          let result: ReadableStreamReadResult<Uint8Array>;
          if (first === undefined) {
            deadline.arm(idleTimeoutMs);
            try {
              result = await reader.read();
            } finally {
              deadline.disarm();
            }
          } else {
            result = { done: false, value: first };
            first = undefined;
          }
          if (settled) return;
          if (result.done) {
            emit(decoder.end());
            const verified = verifier.finish();
            controller.enqueue(verified.trailer);
            controller.close();
            settle();
            resolveDone({ size: verified.size, sha256: verified.sha256 });
            return;
          }
          if (emit(decoder.push(result.value))) return;
        }
      } catch (error) {
        if (settled) return;
        const reason = failure(error);
        await settle(reason);
        throw reason;
      }
    },
    async cancel(reason) {
      if (settled) return;
      await settle(
        new EtcdError(`Snapshot from "${endpoint}" cancelled by its reader`, {
          endpoint,
          code: "Cancelled",
          ...(reason === undefined ? {} : { cause: reason }),
        }),
      );
    },
  });
  return { body, done };
}

/** "Cannot decode …" reads as "… failed: cannot decode …"; "gRPC …" stays as it is. */
function lowerFirst(message: string): string {
  return /^[A-Z][a-z]/.test(message) ? message[0]!.toLowerCase() + message.slice(1) : message;
}
