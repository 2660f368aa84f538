/**
 * Checks a snapshot as it streams past: etcd ends it with the SHA-256 of all bytes before, so
 * the last 32 bytes seen are held back until the end, and what goes out is hashed on the way.
 */
import type { Hash } from "node:crypto";
import { EtcdError } from "./_errors.ts";

/** Length of the SHA-256 trailer etcd appends to a snapshot. */
export const TRAILER_BYTES = 32;
/** bbolt databases are whole pages, so a snapshot's size is 32 past a multiple of 512. */
const SIZE_MODULUS = 512;

/** What a verified snapshot amounts to. */
export interface VerifiedSnapshot {
  /** The data still held back at the end (views of the last blobs), to be sent before `trailer`. */
  head: Uint8Array[];
  /** The held-back trailer, to be sent last. */
  trailer: Uint8Array;
  /** Total bytes, trailer included: the size of the file `etcdctl snapshot save` writes. */
  size: number;
  /** Hex SHA-256 of the data part (equal to the trailer). */
  sha256: string;
  /**
   * Hex SHA-256 of the whole file, trailer included: what `sha256sum` says of the saved file,
   * from the same pass over the data (so a backup need not hash the bytes again).
   */
  fileSha256: string;
}

/** Hashes snapshot bytes while holding back the last 32; `finish()` checks the trailer. */
export class SnapshotVerifier {
  readonly #hash: Hash;
  /** Blobs not handed out yet, as given: the bytes after the first of them are fewer than 32. */
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #size = 0;
  #remainingBytes = 0;

  /**
   * A verifier; node:crypto loads with the first one, so a process that never reads a snapshot
   * never starts Deno's Node.js layer (about 4 MiB of the idle daemon's memory).
   */
  static async create(): Promise<SnapshotVerifier> {
    const { createHash } = await import("node:crypto");
    return new SnapshotVerifier(createHash("sha256"));
  }

  /** A verifier that hashes with `hash` (a fresh SHA-256); {@linkcode create} makes one. */
  constructor(hash: Hash) {
    this.#hash = hash;
  }

  /**
   * Takes the next blob and returns the blobs now known to hold no trailer byte: whole blobs as
   * given, not copies (so they must not change later), one per blob in the usual case of blobs
   * longer than the trailer. `remainingBytes` is etcd's count of database bytes still to come.
   */
  push(blob: Uint8Array, remainingBytes = 0): Uint8Array[] {
    this.#remainingBytes = remainingBytes;
    if (blob.length === 0) return [];
    this.#size += blob.length;
    this.#held.push(blob);
    this.#heldBytes += blob.length;
    const out: Uint8Array[] = [];
    while (this.#heldBytes - this.#held[0]!.length >= TRAILER_BYTES) {
      const next = this.#held.shift()!;
      this.#heldBytes -= next.length;
      this.#hash.update(next);
      out.push(next);
    }
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
    // The held blobs end with the trailer; what comes before it is data still to hash.
    const data = this.#heldBytes - TRAILER_BYTES;
    const trailer = new Uint8Array(TRAILER_BYTES);
    const head: Uint8Array[] = [];
    let offset = 0;
    for (const blob of this.#held) {
      const split = Math.min(Math.max(data - offset, 0), blob.length);
      if (split > 0) head.push(blob.subarray(0, split));
      trailer.set(blob.subarray(split), Math.max(offset - data, 0));
      offset += blob.length;
    }
    for (const piece of head) this.#hash.update(piece);
    const file = this.#hash.copy();
    const digest = this.#hash.digest();
    const sha256 = digest.toString("hex");
    if (!equalBytes(digest, trailer)) {
      throw new EtcdError(
        `Trailer does not match the data: SHA-256 of the data is ${sha256}, the trailer says ${
          toHex(trailer)
        }`,
        { code: "DataLoss" },
      );
    }
    const fileSha256 = file.update(trailer).digest("hex");
    return { head, trailer, size: this.#size, sha256, fileSha256 };
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
export async function snapshotChecker(): Promise<TransformStream<Uint8Array, Uint8Array>> {
  const verifier = await SnapshotVerifier.create();
  return new TransformStream({
    transform(chunk, controller) {
      for (const piece of verifier.push(chunk)) controller.enqueue(piece);
    },
    flush(controller) {
      const { head, trailer } = verifier.finish();
      for (const piece of head) controller.enqueue(piece);
      controller.enqueue(trailer);
    },
  });
}
