import assert from "node:assert/strict";
import { EtcdError, failoverReason, isFailover } from "./_errors.ts";
import {
  describeGatewayError,
  GatewayDecoder,
  MAX_ANSWER_BYTES,
  readGatewayAnswer,
} from "./_gateway.ts";
import { cut, fakeSnapshot, gatewayBody } from "./_testing.ts";

const encoder = new TextEncoder();

Deno.test("GatewayDecoder decodes lines split anywhere across chunks", () => {
  const snapshot = fakeSnapshot(20);
  const body = encoder.encode(gatewayBody(snapshot));
  for (const sizes of [[body.length], [1], [7, 4096], [16_384], [43_700]]) {
    const decoder = new GatewayDecoder();
    const chunks = [...cut(body, sizes).flatMap((piece) => decoder.push(piece)), ...decoder.end()];
    assert.deepEqual(chunks, snapshot.blobs, `pieces of ${sizes.join("+")}`);
  }
});

Deno.test("GatewayDecoder takes a last line without newline and an omitted remaining_bytes", () => {
  const decoder = new GatewayDecoder();
  assert.deepEqual(decoder.push(encoder.encode(`{"result":{"blob":"AQID"}}`)), []);
  assert.deepEqual(decoder.end(), [{ remainingBytes: 0, blob: Uint8Array.of(1, 2, 3) }]);
});

Deno.test("GatewayDecoder throws on an error line after data", () => {
  const decoder = new GatewayDecoder();
  decoder.push(encoder.encode(`{"result":{"remaining_bytes":"10","blob":"AQID"}}\n`));
  assert.throws(
    () =>
      decoder.push(encoder.encode(
        `{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: leader changed","http_status":"Service Unavailable"}}\n`,
      )),
    (error: unknown) =>
      error instanceof EtcdError && error.code === "Unavailable" &&
      /in the middle of the snapshot: etcdserver: leader changed/.test(error.message),
  );
});

Deno.test("GatewayDecoder rejects malformed lines", () => {
  assert.throws(() => new GatewayDecoder().push(encoder.encode("{oops\n")), /line 1 .* as JSON/);
  assert.throws(() => new GatewayDecoder().push(encoder.encode("[1]\n")), /not a JSON object/);
  assert.throws(() => new GatewayDecoder().push(encoder.encode(`{"x":1}\n`)), /no "result"/);
  assert.throws(
    () => new GatewayDecoder().push(encoder.encode(`{"result":{"remaining_bytes":"-1"}}\n`)),
    /"remaining_bytes" is not a count/,
  );
  assert.throws(
    () => new GatewayDecoder().push(encoder.encode(`{"result":{"blob":"@@@"}}\n`)),
    /bad blob/,
  );
});

Deno.test("describeGatewayError() reads unary and stream error bodies", () => {
  assert.deepEqual(
    describeGatewayError({
      error: "etcdserver: authentication failed, invalid user ID or password",
      message: "etcdserver: authentication failed, invalid user ID or password",
      code: 3,
    }),
    {
      code: "InvalidArgument",
      message: "etcdserver: authentication failed, invalid user ID or password",
    },
  );
  assert.deepEqual(
    describeGatewayError({ error: { grpc_code: 7, message: "etcdserver: permission denied" } }),
    { code: "PermissionDenied", message: "etcdserver: permission denied" },
  );
  assert.deepEqual(describeGatewayError("Not Found"), { message: "no error details" });
  assert.deepEqual(describeGatewayError({ code: 99 }), {
    code: "Code(99)",
    message: "no error details",
  });
});

Deno.test("GatewayDecoder refuses a line longer than its limit, split or whole", () => {
  const line = encoder.encode(`{"result":{"blob":"${"A".repeat(200)}"}}\n`);
  // Fits: the limit counts the line without its newline.
  const fits = new GatewayDecoder({ maxLineBytes: line.length - 1 });
  assert.equal(fits.push(line).length, 1);
  const tooLong = /line 1 of the gateway snapshot stream is longer than the limit of 100 bytes/i;
  assert.throws(() => new GatewayDecoder({ maxLineBytes: 100 }).push(line), (error: unknown) => {
    assert.ok(error instanceof EtcdError);
    assert.equal(error.code, "ResourceExhausted");
    assert.match(error.message, tooLong);
    return true;
  });
  // A line that never ends is refused once its pieces pass the limit, not kept growing.
  const endless = new GatewayDecoder({ maxLineBytes: 100 });
  const piece = encoder.encode("A".repeat(40));
  endless.push(piece);
  endless.push(piece);
  assert.throws(() => endless.push(piece), tooLong);
});

Deno.test("GatewayDecoder's default limit takes etcd's largest lines", () => {
  const blob = new Uint8Array(32 * 1024).fill(7);
  const line = `{"result":{"remaining_bytes":"1","blob":"${blob.toBase64()}"}}\n`;
  const decoder = new GatewayDecoder();
  assert.deepEqual(decoder.push(encoder.encode(line)), [{ remainingBytes: 1, blob }]);
  assert.throws(() => decoder.push(new Uint8Array(1024 * 1024 + 1)), /longer than the limit/);
});

Deno.test("readGatewayAnswer() parses JSON and keeps other text for the error", async () => {
  const json = new Response(`{"version":"3.4.23"}`, { status: 200 });
  assert.deepEqual(await readGatewayAnswer(json, "http://e:2379", "get the status"), {
    status: 200,
    body: { version: "3.4.23" },
    text: `{"version":"3.4.23"}`,
  });
  const html = new Response("<html>502 Bad Gateway</html>", {
    status: 502,
    headers: { "content-type": "text/html" },
  });
  assert.deepEqual(await readGatewayAnswer(html, "http://e:2379", "get the status"), {
    status: 502,
    body: undefined,
    text: "<html>502 Bad Gateway</html>",
  });
  const truncated = new Response(`{"header":{"cluster_id":"1`);
  assert.equal((await readGatewayAnswer(truncated, "http://e:2379", "x")).body, undefined);
});

Deno.test("readGatewayAnswer() refuses an answer over its limit and marks it for fail over", async () => {
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += 65_536;
      controller.enqueue(new Uint8Array(65_536).fill(0x20));
    },
  });
  await assert.rejects(
    readGatewayAnswer(new Response(endless), "http://127.0.0.1:2379", "get the status"),
    (error: unknown) => {
      assert.ok(error instanceof EtcdError);
      assert.equal(error.code, "ResourceExhausted");
      assert.equal(error.endpoint, "http://127.0.0.1:2379");
      assert.equal(
        error.message,
        `Cannot get the status at "http://127.0.0.1:2379": answer over the limit of ${MAX_ANSWER_BYTES} bytes (is "http://127.0.0.1:2379" an etcd client URL?)`,
      );
      assert.ok(isFailover(error));
      assert.equal(
        failoverReason(error),
        `answer over the limit of ${MAX_ANSWER_BYTES} bytes`,
      );
      return true;
    },
  );
  assert.ok(pulled < MAX_ANSWER_BYTES + 200_000, `read ${pulled} bytes`);
});
