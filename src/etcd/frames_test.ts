import assert from "node:assert/strict";
import { EtcdError } from "./_errors.ts";
import { GrpcFrameDecoder } from "./_frames.ts";
import { concatBytes, cut, grpcFrame, pseudoRandomBytes } from "./_testing.ts";

const MESSAGES = [
  pseudoRandomBytes(40_000, 7),
  new Uint8Array(0),
  Uint8Array.of(9),
  pseudoRandomBytes(70_000, 8),
];
const STREAM = concatBytes(MESSAGES.map(grpcFrame));

function decodeAll(pieces: Uint8Array[]): Uint8Array[] {
  const decoder = new GrpcFrameDecoder();
  const messages = pieces.flatMap((piece) => decoder.push(piece));
  decoder.end();
  return messages;
}

Deno.test("GrpcFrameDecoder reads several frames from one chunk", () => {
  assert.deepEqual(decodeAll([STREAM]), MESSAGES);
});

Deno.test("GrpcFrameDecoder reads frames split across chunks at every size", () => {
  for (const sizes of [[1], [2], [3], [5], [4, 1], [7, 16_384], [16_384], [40_004], [40_005, 6]]) {
    assert.deepEqual(decodeAll(cut(STREAM, sizes)), MESSAGES, `pieces of ${sizes.join("+")}`);
  }
});

Deno.test("GrpcFrameDecoder hands out messages that stay valid after the chunk changes", () => {
  const decoder = new GrpcFrameDecoder();
  const frame = grpcFrame(Uint8Array.of(1, 2, 3));
  const chunk = concatBytes([frame, frame.subarray(0, 6)]);
  const [first] = decoder.push(chunk);
  const [second] = decoder.push(frame.subarray(6));
  assert.deepEqual(first, Uint8Array.of(1, 2, 3));
  // The split one was assembled in a buffer of its own.
  chunk.fill(0);
  assert.deepEqual(second, Uint8Array.of(1, 2, 3));
});

Deno.test("GrpcFrameDecoder with copy: true hands out messages that outlive a reused chunk", () => {
  const decoder = new GrpcFrameDecoder({ copy: true });
  const chunk = concatBytes([grpcFrame(Uint8Array.of(1, 2, 3)), grpcFrame(Uint8Array.of(4))]);
  const messages = decoder.push(chunk);
  // A reader that reuses its buffer overwrites the chunk with the next bytes.
  chunk.fill(0);
  assert.deepEqual(messages, [Uint8Array.of(1, 2, 3), Uint8Array.of(4)]);
  for (const sizes of [[1], [7, 16_384], [40_005, 6]]) {
    const copying = new GrpcFrameDecoder({ copy: true });
    const out = cut(STREAM, sizes).flatMap((piece) => {
      const messages = copying.push(piece);
      piece.fill(0);
      return messages;
    });
    assert.deepEqual(out, MESSAGES, `pieces of ${sizes.join("+")}`);
  }
});

Deno.test("GrpcFrameDecoder.end() throws when the body stops inside a frame", () => {
  const inHeader = new GrpcFrameDecoder();
  inHeader.push(STREAM.subarray(0, 3));
  assert.throws(() => inHeader.end(), /inside a frame header: 3 of 5 bytes/);
  const inMessage = new GrpcFrameDecoder();
  inMessage.push(STREAM.subarray(0, 1000));
  assert.throws(
    () => inMessage.end(),
    (error: unknown) =>
      error instanceof EtcdError && error.code === "DataLoss" &&
      /995 of 40000 bytes/.test(error.message),
  );
});

Deno.test("GrpcFrameDecoder rejects compressed, unknown-flag and oversized frames", () => {
  const compressed = grpcFrame(Uint8Array.of(1));
  compressed[0] = 1;
  assert.throws(() => new GrpcFrameDecoder().push(compressed), /compressed/);
  const flagged = grpcFrame(Uint8Array.of(1));
  flagged[0] = 0x80;
  assert.throws(() => new GrpcFrameDecoder().push(flagged), /unknown flag byte 128/);
  const decoder = new GrpcFrameDecoder({ maxMessageBytes: 1024 });
  assert.throws(
    () => decoder.push(Uint8Array.of(0, 0xff, 0xff, 0xff, 0xff)),
    /larger than the limit/,
  );
});
