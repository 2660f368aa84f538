/** Hand-built etcd snapshot wire data for this folder's tests. */
import { createHash } from "node:crypto";

/** A fake snapshot: the bytes etcdctl would save, and the blobs etcd would send them in. */
export interface FakeSnapshot {
  /** Data plus the 32-byte SHA-256 trailer. */
  bytes: Uint8Array;
  /** Data blobs of at most `blobBytes`, then the trailer as its own blob, as etcd sends them. */
  blobs: { remainingBytes: number; blob: Uint8Array }[];
}

/** Encodes a protobuf varint. */
export function encodeVarint(value: number | bigint): number[] {
  let rest = BigInt(value);
  if (rest < 0n) rest += 1n << 64n;
  const out: number[] = [];
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest > 0n) byte |= 0x80;
    out.push(byte);
  } while (rest > 0n);
  return out;
}

/** Encodes a `SnapshotResponse` with a response header, like etcd does. */
export function encodeSnapshotResponse(remainingBytes: number, blob: Uint8Array): Uint8Array {
  // header: ResponseHeader { cluster_id = 1 (varint), revision = 3 (varint) }
  const header = [0x08, ...encodeVarint(14841639068965178418n), 0x18, ...encodeVarint(42)];
  const bytes = [0x0a, ...encodeVarint(header.length), ...header];
  if (remainingBytes > 0) bytes.push(0x10, ...encodeVarint(remainingBytes));
  bytes.push(0x1a, ...encodeVarint(blob.length));
  const out = new Uint8Array(bytes.length + blob.length);
  out.set(bytes);
  out.set(blob, bytes.length);
  return out;
}

/** Wraps a message in a gRPC frame: flag 0, 4-byte big-endian length, message. */
export function grpcFrame(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(5 + message.length);
  new DataView(frame.buffer).setUint32(1, message.length);
  frame.set(message, 5);
  return frame;
}

/** Deterministic pseudo-random data (xorshift), so failures reproduce. */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[index] = state & 0xff;
  }
  return out;
}

/** A snapshot of `pages` 4 KiB pages cut into blobs like etcd 3.4 does (32 KiB). */
export function fakeSnapshot(pages: number, blobBytes = 32 * 1024): FakeSnapshot {
  const data = pseudoRandomBytes(pages * 4096, pages);
  const trailer = new Uint8Array(createHash("sha256").update(data).digest());
  const bytes = new Uint8Array(data.length + trailer.length);
  bytes.set(data);
  bytes.set(trailer, data.length);
  const blobs: FakeSnapshot["blobs"] = [];
  for (let offset = 0; offset < data.length; offset += blobBytes) {
    const blob = data.subarray(offset, offset + blobBytes);
    blobs.push({ remainingBytes: data.length - offset - blob.length, blob });
  }
  blobs.push({ remainingBytes: 0, blob: trailer });
  return { bytes, blobs };
}

/** The gRPC response body etcd would send for `snapshot`. */
export function grpcBody(snapshot: FakeSnapshot): Uint8Array {
  return concatBytes(
    snapshot.blobs.map(({ remainingBytes, blob }) =>
      grpcFrame(encodeSnapshotResponse(remainingBytes, blob))
    ),
  );
}

/** The JSON gateway's newline-delimited body for `snapshot`. */
export function gatewayBody(snapshot: FakeSnapshot): string {
  return snapshot.blobs.map(({ remainingBytes, blob }) => {
    const result: Record<string, string> = { blob: blob.toBase64() };
    if (remainingBytes > 0) result.remaining_bytes = String(remainingBytes);
    return JSON.stringify({ result }) + "\n";
  }).join("");
}

/** Concatenates byte arrays. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Cuts `bytes` into pieces of the given sizes, cycling through them. */
export function cut(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (let index = 0; offset < bytes.length; index++) {
    const size = sizes[index % sizes.length] ?? bytes.length;
    pieces.push(bytes.slice(offset, offset + size));
    offset += size;
  }
  return pieces;
}
