import assert from "node:assert/strict";
import { readBody, readText, ResponseTooLargeError } from "./mod.ts";

/** A body that hands out `chunk` forever and counts what was pulled and whether it was cancelled. */
function endless(chunk: Uint8Array) {
  const seen = { pulled: 0, cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      seen.pulled += chunk.length;
      controller.enqueue(chunk);
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { body, seen };
}

Deno.test("readBody() returns a body up to the limit, byte for byte", async () => {
  const bytes = crypto.getRandomValues(new Uint8Array(4096));
  assert.deepEqual(
    await readBody(new Response(bytes), { maxBytes: 4096, source: "http://a" }),
    bytes,
  );
  assert.deepEqual(
    await readBody(new Response(null), { maxBytes: 0, source: "x" }),
    new Uint8Array(),
  );
  assert.equal(
    await readText(new Response('{"ok":true}'), { maxBytes: 100, source: "x" }),
    `{"ok":true}`,
  );
});

Deno.test("readBody() stops an endless body just past the limit and cancels it", async () => {
  const { body, seen } = endless(new Uint8Array(1000));
  await assert.rejects(
    readBody(new Response(body), { maxBytes: 10_000, source: "http://127.0.0.1:2379" }),
    (error) => {
      assert.ok(error instanceof ResponseTooLargeError);
      assert.ok(error instanceof RangeError);
      assert.equal(
        error.message,
        `Cannot read the answer of "http://127.0.0.1:2379": more than the limit of 10000 bytes arrived`,
      );
      assert.equal(error.maxBytes, 10_000);
      return true;
    },
  );
  assert.ok(seen.cancelled, "the body was cancelled");
  // The stream may have queued a chunk or two ahead, not more.
  assert.ok(seen.pulled <= 13_000, `pulled ${seen.pulled} bytes`);
});

Deno.test("readBody() refuses a declared content-length over the limit without reading", async () => {
  const { body, seen } = endless(new Uint8Array(1000));
  const response = new Response(body, { headers: { "content-length": "5000000000" } });
  await assert.rejects(
    readBody(response, { maxBytes: 1024, source: "https://user:hunter22@es.example:9200/_x" }),
    (error) => {
      assert.ok(error instanceof ResponseTooLargeError);
      assert.equal(error.declaredBytes, 5_000_000_000);
      assert.equal(
        error.message,
        `Cannot read the answer of "https://user:***@es.example:9200/_x": it declares 5000000000 bytes, more than the limit of 1024`,
      );
      assert.doesNotMatch(error.message, /hunter22/);
      return true;
    },
  );
  assert.ok(seen.cancelled);
  assert.ok(seen.pulled <= 1000, `pulled ${seen.pulled} bytes`);
});

Deno.test("readBody() passes a failing body's error through and cancels it", async () => {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(10));
      controller.error(new TypeError("connection reset"));
    },
  });
  await assert.rejects(readBody(new Response(body), { maxBytes: 100, source: "x" }), /reset/);
});

Deno.test("readBody() rejects a limit that is not a byte count", async () => {
  for (const maxBytes of [-1, 1.5, Number.NaN, Infinity]) {
    await assert.rejects(
      readBody(new Response("x"), { maxBytes, source: "x" }),
      RangeError,
      String(maxBytes),
    );
  }
});
