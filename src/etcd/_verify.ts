/**
 * Checks a snapshot as it streams past: etcd ends it with the SHA-256 of all bytes before, so
 * the last 32 bytes seen are held back until the end, and what goes out is hashed on the way.
 */
import { createHash, type Hash } from "node:crypto";
import { EtcdError } from "./_errors.ts";

/** Length of the SHA-256 trailer etcd appends to a snapshot. */
export const TRAILER_BYTES = 32;
/** bbolt databases are whole pages, so a snapshot's size is 32 past a multiple of 512. */
const SIZE_MODULUS = 512;

/** What a verified snapshot amounts to. */
export interface VerifiedSnapshot {
  /** The held-back trailer, to be sent last. */
  trailer: Uint8Array;
  /** Total bytes, trailer included: the size of the file `etcdctl snapshot save` writes. */
  size: number;
  /** Hex SHA-256 of the data part (equal to the trailer). */
  sha256: string;
}

/** Hashes snapshot bytes while holding back the last 32; `finish()` checks the trailer. */
export class SnapshotVerifier {
  readonly #hash: Hash = createHash("sha256");
  #held: Uint8Array = new Uint8Array(0);
  #size = 0;
  #remainingBytes = 0;

  /**
   * Takes the next blob and returns the bytes that are now known not to be the trailer, in a
   * fresh buffer; `remainingBytes` is etcd's count of database bytes still to come.
   */
  push(blob: Uint8Array, remainingBytes = 0): Uint8Array {
    this.#remainingBytes = remainingBytes;
    if (blob.length === 0) return new Uint8Array(0);
    this.#size += blob.length;
    const held = this.#held;
    const total = held.length + blob.length;
    if (total <= TRAILER_BYTES) {
      const next = new Uint8Array(total);
      next.set(held);
      next.set(blob, held.length);
      this.#held = next;
      return new Uint8Array(0);
    }
    const emit = total - TRAILER_BYTES;
    const out = new Uint8Array(emit);
    if (emit <= held.length) {
      out.set(held.subarray(0, emit));
      const next = new Uint8Array(TRAILER_BYTES);
      next.set(held.subarray(emit));
      next.set(blob, held.length - emit);
      this.#held = next;
    } else {
      out.set(held);
      out.set(blob.subarray(0, emit - held.length), held.length);
      this.#held = blob.slice(blob.length - TRAILER_BYTES);
    }
    this.#hash.update(out);
    return out;
  }

  /** Checks the stream's end: nothing announced missing, the size rule, the trailer. */
  finish(): VerifiedSnapshot {
    if (this.#remainingBytes > 0) {
      throw new EtcdError(
        `Stream ended early: etcd announced ${this.#remainingBytes} more bytes after ${this.#size}`,
        { code: "DataLoss" },
      );
    }
    if (this.#size % SIZE_MODULUS !== TRAILER_BYTES) {
      throw new EtcdError(
        `Size ${this.#size} breaks the size rule (size % ${SIZE_MODULUS} == ${TRAILER_BYTES}): the stream was cut short or is not an etcd snapshot`,
        { code: "DataLoss" },
      );
    }
    const digest = this.#hash.digest();
    const sha256 = digest.toString("hex");
    const trailer = this.#held;
    if (!equalBytes(digest, trailer)) {
      throw new EtcdError(
        `Trailer does not match the data: SHA-256 of the data is ${sha256}, the trailer says ${
          toHex(trailer)
        }`,
        { code: "DataLoss" },
      );
    }
    return { trailer, size: this.#size, sha256 };
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Checks a snapshot file's bytes as they pass (for restores from storage): the stream errors
 * at its end when the size rule or etcd's SHA-256 trailer does not hold.
 */
export function snapshotChecker(): TransformStream<Uint8Array, Uint8Array> {
  const verifier = new SnapshotVerifier();
  return new TransformStream({
    transform(chunk, controller) {
      const out = verifier.push(chunk);
      if (out.length > 0) controller.enqueue(out);
    },
    flush(controller) {
      controller.enqueue(verifier.finish().trailer);
    },
  });
}
