import assert from "node:assert/strict";
import { EtcdError } from "./_errors.ts";
import { describeGatewayError, GatewayDecoder } from "./_gateway.ts";
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
