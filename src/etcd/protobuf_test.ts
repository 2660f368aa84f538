import assert from "node:assert/strict";
import { EtcdError } from "./_errors.ts";
import { decodeSnapshotResponse, readVarint } from "./_protobuf.ts";
import { encodeSnapshotResponse, encodeVarint } from "./_testing.ts";

Deno.test("readVarint() reads one-byte, multi-byte and 64-bit varints", () => {
  assert.deepEqual(readVarint(Uint8Array.of(0x00), 0), { value: 0, next: 1 });
  assert.deepEqual(readVarint(Uint8Array.of(0x7f), 0), { value: 127, next: 1 });
  assert.deepEqual(readVarint(Uint8Array.of(0xac, 0x02), 0), { value: 300, next: 2 });
  assert.deepEqual(readVarint(Uint8Array.of(0xff, 0xac, 0x02, 0xff), 1), { value: 300, next: 3 });
  // Beyond 32 bits, where bit shifts would wrap.
  const big = 2 ** 40 + 12345;
  assert.deepEqual(readVarint(Uint8Array.from(encodeVarint(big)), 0), { value: big, next: 6 });
  assert.equal(
    readVarint(Uint8Array.from(encodeVarint(Number.MAX_SAFE_INTEGER)), 0).value,
    2 ** 53 - 1,
  );
  // -1 as int64 takes all 10 bytes.
  const minusOne = Uint8Array.from(encodeVarint(-1));
  assert.equal(minusOne.length, 10);
  assert.equal(readVarint(minusOne, 0).next, 10);
});

Deno.test("readVarint() rejects truncated and over-long varints", () => {
  assert.throws(() => readVarint(Uint8Array.of(0x80, 0x80), 0), EtcdError);
  assert.throws(() => readVarint(new Uint8Array(0), 0), /truncated/);
  assert.throws(() => readVarint(new Uint8Array(11).fill(0x80), 0), /longer than 10 bytes/);
});

Deno.test("decodeSnapshotResponse() reads remaining_bytes and blob and skips the header", () => {
  const blob = Uint8Array.of(1, 2, 3, 4, 5);
  const decoded = decodeSnapshotResponse(encodeSnapshotResponse(2 ** 33, blob));
  assert.equal(decoded.remainingBytes, 2 ** 33);
  assert.deepEqual(decoded.blob, blob);
});

Deno.test("decodeSnapshotResponse() skips unknown fields of every wire type", () => {
  const message = Uint8Array.of(
    0x1a,
    0x02,
    0xaa,
    0xbb, // blob = aa bb
    0x21,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8, // field 4, fixed64
    0x2d,
    1,
    2,
    3,
    4, // field 5, fixed32
    0x30,
    0x96,
    0x01, // field 6, varint 150
    0x22,
    0x03,
    0x76,
    0x33,
    0x34, // field 4, bytes "v34" (version in 3.6)
    0x10,
    0x05, // remaining_bytes = 5, after the blob
    0xf8,
    0xff,
    0x07,
    0x01, // field 131071, varint
  );
  const decoded = decodeSnapshotResponse(message);
  assert.equal(decoded.remainingBytes, 5);
  assert.deepEqual(decoded.blob, Uint8Array.of(0xaa, 0xbb));
});

Deno.test("decodeSnapshotResponse() of an empty message is an empty blob with nothing left", () => {
  assert.deepEqual(decodeSnapshotResponse(new Uint8Array(0)), {
    remainingBytes: 0,
    blob: new Uint8Array(0),
  });
});

Deno.test("decodeSnapshotResponse() rejects a truncated blob and unknown wire types", () => {
  assert.throws(
    () => decodeSnapshotResponse(Uint8Array.of(0x1a, 0x05, 1, 2)),
    /field 3 needs 5 bytes, only 2 left/,
  );
  assert.throws(() => decodeSnapshotResponse(Uint8Array.of(0x0b)), /wire type 3/);
  assert.throws(() => decodeSnapshotResponse(Uint8Array.of(0x25, 1, 2)), /truncated/);
  assert.throws(() => decodeSnapshotResponse(Uint8Array.of(0x15, 1, 2, 3, 4)), /wire type 5/);
});
