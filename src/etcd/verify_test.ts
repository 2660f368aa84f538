import assert from "node:assert/strict";
import { EtcdError } from "./_errors.ts";
import { snapshotChecker, SnapshotVerifier } from "./_verify.ts";
import { concatBytes, cut, fakeSnapshot } from "./_testing.ts";
import { createHash } from "node:crypto";

function run(pieces: Uint8Array[], remaining: (index: number) => number = () => 0) {
  const verifier = new SnapshotVerifier(createHash("sha256"));
  const out = pieces.flatMap((piece, index) => verifier.push(piece, remaining(index)));
  const verified = verifier.finish();
  return { bytes: concatBytes([...out, ...verified.head, verified.trailer]), ...verified };
}

function dataLoss(pattern: RegExp): (error: unknown) => boolean {
  return (error) =>
    error instanceof EtcdError && error.code === "DataLoss" && pattern.test(error.message);
}

Deno.test("SnapshotVerifier passes a snapshot through unchanged, however it is cut", () => {
  const snapshot = fakeSnapshot(30);
  const sha256 = createHash("sha256").update(snapshot.bytes.subarray(0, -32)).digest("hex");
  for (const sizes of [[32_768], [1], [31], [32], [33], [5, 40, 3], [snapshot.bytes.length]]) {
    const result = run(cut(snapshot.bytes, sizes));
    assert.deepEqual(result.bytes, snapshot.bytes, `pieces of ${sizes.join("+")}`);
    assert.equal(result.size, snapshot.bytes.length);
    assert.equal(result.sha256, sha256);
    assert.equal(result.fileSha256, createHash("sha256").update(snapshot.bytes).digest("hex"));
    assert.equal(result.size % 512, 32);
  }
});

Deno.test("SnapshotVerifier never hands out the last 32 bytes before finish()", () => {
  const snapshot = fakeSnapshot(2);
  for (const sizes of [[snapshot.bytes.length], [100, 20, 5000], [31, 1, 32, 33]]) {
    const verifier = new SnapshotVerifier(createHash("sha256"));
    let given = 0;
    let out = 0;
    for (const piece of cut(snapshot.bytes, sizes)) {
      given += piece.length;
      out += verifier.push(piece).reduce((sum, bytes) => sum + bytes.length, 0);
      assert.ok(
        out <= Math.max(0, given - 32),
        `${out} of ${given} bytes out (pieces of ${sizes.join("+")})`,
      );
    }
    const { head, trailer } = verifier.finish();
    assert.equal(out + head.reduce((sum, bytes) => sum + bytes.length, 0), given - 32);
    assert.deepEqual(trailer, snapshot.bytes.subarray(-32));
  }
});

Deno.test("SnapshotVerifier fails on a flipped byte in the data or in the trailer", () => {
  const snapshot = fakeSnapshot(8);
  for (const position of [0, 4096, snapshot.bytes.length - 33, snapshot.bytes.length - 1]) {
    const damaged = snapshot.bytes.slice();
    damaged[position]! ^= 0x01;
    assert.throws(
      () => run(cut(damaged, [1000])),
      dataLoss(/^Trailer does not match the data: SHA-256 of the data is [0-9a-f]{64}/),
      `byte ${position}`,
    );
  }
});

Deno.test("SnapshotVerifier fails on a stream cut short", () => {
  const snapshot = fakeSnapshot(8);
  // Cut on a page boundary with a plausible size: only the hash can tell.
  const pageCut = snapshot.bytes.subarray(0, 4 * 4096 + 32);
  assert.throws(() => run([pageCut]), dataLoss(/Trailer does not match/));
  assert.throws(() => run([snapshot.bytes.subarray(0, 5000)]), dataLoss(/size rule/));
  assert.throws(() => run([]), dataLoss(/^Size 0 breaks the size rule/));
  assert.throws(() => run([Uint8Array.of(1, 2)]), dataLoss(/size rule/));
});

Deno.test("SnapshotVerifier fails when etcd announced more bytes than came", () => {
  const snapshot = fakeSnapshot(8);
  assert.throws(
    () => run([snapshot.bytes.subarray(0, 8192)], () => 24_576),
    dataLoss(/Stream ended early: etcd announced 24576 more bytes after 8192/),
  );
});

Deno.test("snapshotChecker() passes a good snapshot through and errors on a flipped byte", async () => {
  const data = new Uint8Array(1024).map((_, i) => i % 251);
  const file = new Uint8Array([...data, ...createHash("sha256").update(data).digest()]);
  const chunks = [file.subarray(0, 700), file.subarray(700, 1040), file.subarray(1040)];
  const out = new Uint8Array(
    await new Response(ReadableStream.from(chunks).pipeThrough(await snapshotChecker()))
      .arrayBuffer(),
  );
  assert.deepEqual(out, file);
  const bad = file.slice();
  bad[100]! ^= 1;
  await assert.rejects(
    new Response(ReadableStream.from([bad]).pipeThrough(await snapshotChecker())).arrayBuffer(),
    /Trailer does not match/,
  );
});
