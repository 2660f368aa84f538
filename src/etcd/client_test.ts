// EtcdClient against fake etcd servers on 127.0.0.1 (Deno.serve speaks HTTP/1.1 and h2c, as
// etcd does on one port), for the failures a real etcd will not produce on demand.
import assert from "node:assert/strict";
import { EtcdClient, EtcdError, type SnapshotStream } from "./mod.ts";
import {
  cut,
  encodeSnapshotResponse,
  fakeSnapshot,
  gatewayBody,
  grpcBody,
  grpcFrame,
} from "./_testing.ts";

type Handler = (request: Request) => Response | Promise<Response>;

const GRPC_PATH = "/etcdserverpb.Maintenance/Snapshot";
const GATEWAY_PATH = "/v3/maintenance/snapshot";
const encoder = new TextEncoder();

async function withServer(
  handler: Handler,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

/** A TCP server that answers every connection with `reply` (or holds it open when undefined). */
async function withRawServer(
  reply: string | undefined,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      if (reply === undefined) continue;
      (async () => {
        const buffer = new Uint8Array(4096);
        let seen = "";
        while (!seen.includes("\r\n\r\n")) {
          const read = await conn.read(buffer).catch(() => null);
          if (read === null) break;
          seen += new TextDecoder().decode(buffer.subarray(0, read));
        }
        await conn.write(encoder.encode(reply)).catch(() => {});
        conns.delete(conn);
        conn.close();
      })();
    }
  })();
  try {
    await fn(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
  } finally {
    listener.close();
    await serving.catch(() => {});
    for (const conn of conns) conn.close();
  }
}

/** A port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function streamOf(pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream({
    pull(controller) {
      const piece = pieces[index++];
      if (piece === undefined) controller.close();
      else controller.enqueue(piece);
    },
  });
}

function grpcResponse(body: Uint8Array | ReadableStream<Uint8Array>): Response {
  const stream = body instanceof Uint8Array ? streamOf(cut(body, [7001, 3, 40_000])) : body;
  return new Response(stream, { headers: { "content-type": "application/grpc" } });
}

function gatewayResponse(text: string): Response {
  return new Response(streamOf(cut(encoder.encode(text), [5000, 1, 30_000])), {
    headers: { "content-type": "application/json" },
  });
}

async function readAll(stream: SnapshotStream): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream.body).arrayBuffer());
}

function etcdError(code: string, pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof EtcdError, `expected EtcdError, got ${error}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  };
}

Deno.test("EtcdClient.snapshot() streams and verifies a gRPC snapshot", async () => {
  const snapshot = fakeSnapshot(40);
  const requests: { headers: Headers; body: Uint8Array }[] = [];
  await withServer(async (request) => {
    assert.equal(new URL(request.url).pathname, GRPC_PATH);
    requests.push({
      headers: new Headers(request.headers),
      body: new Uint8Array(await request.arrayBuffer()),
    });
    return grpcResponse(grpcBody(snapshot));
  }, async (url) => {
    const client = new EtcdClient({ endpoints: [url] });
    try {
      const stream = await client.snapshot({ transport: "grpc" });
      assert.equal(stream.transport, "grpc");
      assert.equal(stream.endpoint, url);
      assert.deepEqual(await readAll(stream), snapshot.bytes);
      const done = await stream.done;
      assert.equal(done.size, snapshot.bytes.length);
      assert.equal(done.sha256, snapshot.bytes.subarray(-32).toHex());
    } finally {
      client.close();
    }
  });
  const [request] = requests;
  assert.equal(request?.headers.get("content-type"), "application/grpc");
  assert.equal(request?.headers.get("te"), "trailers");
  assert.equal(request?.headers.get("authorization"), null);
  assert.deepEqual(request?.body, new Uint8Array(5));
});

Deno.test("EtcdClient.snapshot() streams and verifies a gateway snapshot", async () => {
  const snapshot = fakeSnapshot(40);
  await withServer(async (request) => {
    assert.equal(new URL(request.url).pathname, GATEWAY_PATH);
    assert.equal(await request.text(), "{}");
    return gatewayResponse(gatewayBody(snapshot));
  }, async (url) => {
    const client = new EtcdClient({ endpoints: [url] });
    try {
      const stream = await client.snapshot({ transport: "gateway" });
      assert.equal(stream.transport, "gateway");
      assert.deepEqual(await readAll(stream), snapshot.bytes);
      assert.equal((await stream.done).size, snapshot.bytes.length);
    } finally {
      client.close();
    }
  });
});

Deno.test("EtcdClient.snapshot() falls back to the gateway when gRPC gets no gRPC answer", async () => {
  const snapshot = fakeSnapshot(3);
  let grpcCalls = 0;
  await withServer((request) => {
    if (new URL(request.url).pathname === GRPC_PATH) {
      grpcCalls++;
      return new Response("404 page not found", { status: 404 });
    }
    return gatewayResponse(gatewayBody(snapshot));
  }, async (url) => {
    const client = new EtcdClient({ endpoints: [url] });
    try {
      for (let round = 0; round < 2; round++) {
        const stream = await client.snapshot();
        assert.equal(stream.transport, "gateway");
        assert.deepEqual(await readAll(stream), snapshot.bytes);
      }
      // The endpoint is remembered as gateway-only.
      assert.equal(grpcCalls, 1);
    } finally {
      client.close();
    }
  });
});

Deno.test("EtcdClient.snapshot() falls back to the gateway on a server refusing HTTP/2", async () => {
  const snapshot = fakeSnapshot(3);
  const body = gatewayBody(snapshot);
  const reply = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" +
    `content-length: ${encoder.encode(body).length}\r\nconnection: close\r\n\r\n${body}`;
  await withRawServer(reply, async (url) => {
    const client = new EtcdClient({ endpoints: [url] });
    try {
      const stream = await client.snapshot();
      assert.equal(stream.transport, "gateway");
      assert.deepEqual(await readAll(stream), snapshot.bytes);
      await assert.rejects(
        client.snapshot({ transport: "grpc" }),
        etcdError("Unavailable", /over gRPC at "http:\/\/127\.0\.0\.1:\d+"/),
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("EtcdClient.snapshot() turns a gRPC status in the headers into EtcdError", async () => {
  let calls = 0;
  const handler: Handler = () => {
    calls++;
    return new Response(null, {
      headers: {
        "content-type": "application/grpc",
        "grpc-status": "7",
        "grpc-message": "etcdserver:%20permission%20denied",
      },
    });
  };
  await withServer(handler, async (first) => {
    await withServer(handler, async (second) => {
      const client = new EtcdClient({ endpoints: [first, second] });
      try {
        await assert.rejects(client.snapshot(), (error) => {
          etcdError("PermissionDenied", /refused the snapshot: etcdserver: permission denied/)(
            error,
          );
          assert.equal((error as EtcdError).endpoint, first);
          assert.match((error as Error).message, /root role/);
          return true;
        });
        // Not an endpoint failure: the second one is not bothered, nor the gateway.
        assert.equal(calls, 1);
      } finally {
        client.close();
      }
    });
  });
});

Deno.test("EtcdClient.snapshot() errors the body of a gRPC stream cut short", async () => {
  const snapshot = fakeSnapshot(40);
  const full = grpcBody(snapshot);
  for (const length of [full.length - 100, 2 * (32 * 1024 + 30)]) {
    await withServer(() => grpcResponse(full.subarray(0, length)), async (url) => {
      const client = new EtcdClient({ endpoints: [url] });
      try {
        const stream = await client.snapshot({ transport: "grpc" });
        await assert.rejects(readAll(stream), etcdError("DataLoss", /Snapshot from ".*" failed/));
        await assert.rejects(stream.done, EtcdError);
      } finally {
        client.close();
      }
    });
  }
});

Deno.test("EtcdClient.snapshot() errors the body when the trailer does not match", async () => {
  const snapshot = fakeSnapshot(10);
  const blob = snapshot.blobs[1]!.blob.slice();
  blob[100]! ^= 0x40;
  snapshot.blobs[1] = { ...snapshot.blobs[1]!, blob };
  await withServer(() => grpcResponse(grpcBody(snapshot)), async (url) => {
    const client = new EtcdClient({ endpoints: [url] });
    try {
      const stream = await client.snapshot({ transport: "grpc" });
      const reader = stream.body.getReader();
      let received = 0;
      await assert.rejects(async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          received += value.length;
        }
      }, etcdError("DataLoss", /failed: trailer does not match the data/));
      // Everything but the held-back trailer went out before the stream errored.
      assert.equal(received, snapshot.bytes.length - 32);
      await assert.rejects(stream.done, /trailer does not match/);
    } finally {
      client.close();
    }
  });
});

Deno.test("EtcdClient.snapshot() errors the body on a gateway error line after HTTP 200", async () => {
  const snapshot = fakeSnapshot(10);
  const lines = gatewayBody(snapshot).split("\n");
  const text = lines.slice(0, 2).join("\n") +
    `\n{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: leader changed","http_status":"Service Unavailable"}}\n`;
  await withServer(() => gatewayResponse(text), async (url) => {
    const client = new EtcdClient({ endpoints: [url] });
    try {
      const stream = await client.snapshot({ transport: "gateway" });
      await assert.rejects(readAll(stream), etcdError("Unavailable", /leader changed/));
      await assert.rejects(stream.done, /leader changed/);
    } finally {
      client.close();
    }
  });
});

Deno.test("EtcdClient.snapshot() fails over on a gateway 5xx but not on a 403", async () => {
  const snapshot = fakeSnapshot(3);
  let goodCalls = 0;
  const unavailable: Handler = () =>
    Response.json({ error: { grpc_code: 14, message: "etcdserver: not capable" } }, {
      status: 503,
    });
  const denied: Handler = () =>
    Response.json({ error: { grpc_code: 7, message: "etcdserver: permission denied" } }, {
      status: 403,
    });
  const good: Handler = () => {
    goodCalls++;
    return gatewayResponse(gatewayBody(snapshot));
  };
  await withServer(good, async (goodUrl) => {
    await withServer(unavailable, async (downUrl) => {
      const client = new EtcdClient({ endpoints: [downUrl, goodUrl] });
      try {
        const stream = await client.snapshot({ transport: "gateway" });
        assert.equal(stream.endpoint, goodUrl);
        assert.deepEqual(await readAll(stream), snapshot.bytes);
      } finally {
        client.close();
      }
    });
    await withServer(denied, async (deniedUrl) => {
      const client = new EtcdClient({ endpoints: [deniedUrl, goodUrl] });
      try {
        await assert.rejects(
          client.snapshot({ transport: "gateway" }),
          etcdError("PermissionDenied", /HTTP 403: etcdserver: permission denied/),
        );
      } finally {
        client.close();
      }
    });
  });
  assert.equal(goodCalls, 1);
});

Deno.test("EtcdClient fails over from an endpoint that never answers and remembers", async () => {
  let statusCalls = 0;
  await withServer((request) => {
    assert.equal(new URL(request.url).pathname, "/v3/maintenance/status");
    statusCalls++;
    return Response.json({ header: { member_id: "7", revision: "9" }, version: "3.4.23" });
  }, async (goodUrl) => {
    await withRawServer(undefined, async (silentUrl) => {
      const client = new EtcdClient({ endpoints: [silentUrl, goodUrl], timeoutMs: 300 });
      try {
        const started = performance.now();
        const status = await client.status();
        assert.equal(status.endpoint, goodUrl);
        await client.status();
        // The second call went straight to the endpoint that worked.
        assert.ok(performance.now() - started < 2000);
        assert.equal(statusCalls, 2);
      } finally {
        client.close();
      }
      const alone = new EtcdClient({ endpoints: [silentUrl], timeoutMs: 200 });
      try {
        await assert.rejects(
          alone.snapshot({ transport: "gateway" }),
          etcdError("DeadlineExceeded", /no answer within 200 ms/),
        );
      } finally {
        alone.close();
      }
    });
  });
});

Deno.test("EtcdClient names every endpoint and its reason when all fail", async () => {
  const ports = [closedPort(), closedPort()];
  const endpoints = ports.map((port) => `http://127.0.0.1:${port}`);
  const client = new EtcdClient({ endpoints });
  try {
    for (const call of [() => client.status(), () => client.snapshot()]) {
      await assert.rejects(call(), (error) => {
        assert.ok(error instanceof EtcdError);
        assert.equal(error.code, "Unavailable");
        assert.equal(error.endpoint, undefined);
        for (const endpoint of endpoints) {
          assert.ok(error.message.includes(`"${endpoint}": tcp connect error`), error.message);
        }
        assert.ok(error.cause instanceof AggregateError);
        return true;
      });
    }
  } finally {
    client.close();
  }
});

Deno.test("EtcdClient.snapshot() errors a stream that stalls for timeoutMs", async () => {
  const snapshot = fakeSnapshot(40);
  let cancelled = false;
  const first = grpcFrame(encodeSnapshotResponse(1000, snapshot.blobs[0]!.blob));
  const stalling = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(first);
    },
    pull: () => new Promise(() => {}),
    cancel() {
      cancelled = true;
    },
  });
  await withServer(() => grpcResponse(stalling), async (url) => {
    const client = new EtcdClient({ endpoints: [url], timeoutMs: 300 });
    try {
      const stream = await client.snapshot({ transport: "grpc" });
      await assert.rejects(
        readAll(stream),
        etcdError("DeadlineExceeded", /stalled: no data for 300 ms/),
      );
    } finally {
      client.close();
    }
  });
  assert.ok(cancelled, "the server saw the request cancelled");
});

Deno.test("EtcdClient.snapshot() reads no faster than its consumer and cancels cleanly", async () => {
  const blob = new Uint8Array(32 * 1024);
  const frame = grpcFrame(encodeSnapshotResponse(2 ** 40, blob));
  let produced = 0;
  let serverCancelled!: () => void;
  const cancelledOnServer = new Promise<void>((resolve) => serverCancelled = resolve);
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      produced += frame.length;
      controller.enqueue(frame);
    },
    cancel() {
      serverCancelled();
    },
  }, { highWaterMark: 0 });
  await withServer(() => grpcResponse(endless), async (url) => {
    const client = new EtcdClient({ endpoints: [url] });
    try {
      const stream = await client.snapshot({ transport: "grpc" });
      const reader = stream.body.getReader();
      for (let index = 0; index < 4; index++) assert.equal((await reader.read()).done, false);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const whilePaused = produced;
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Flow control stopped the server; an eager reader would have pulled hundreds of MB.
      assert.equal(produced, whilePaused, "the server kept producing while the consumer paused");
      // About 2 MiB here: HTTP/2 windows plus socket buffers.
      assert.ok(produced < 16 * 1024 * 1024, `server produced ${produced} bytes`);
      await reader.cancel(new Error("consumer gone"));
      await cancelledOnServer;
      await assert.rejects(stream.done, etcdError("Cancelled", /cancelled by its reader/));
    } finally {
      client.close();
    }
  });
});

Deno.test("EtcdClient.snapshot() errors the body with the reason when the signal aborts", async () => {
  const snapshot = fakeSnapshot(200);
  await withServer(() => grpcResponse(grpcBody(snapshot)), async (url) => {
    const client = new EtcdClient({ endpoints: [url] });
    const controller = new AbortController();
    try {
      const stream = await client.snapshot({ signal: controller.signal });
      const reader = stream.body.getReader();
      await reader.read();
      const reason = new Error("job timed out");
      controller.abort(reason);
      await assert.rejects(reader.read(), (error) => error === reason);
      await assert.rejects(stream.done, (error) => error === reason);
      await assert.rejects(
        client.snapshot({ signal: controller.signal }),
        (error) => error === reason,
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("EtcdClient authenticates per call and sends the raw token", async () => {
  const snapshot = fakeSnapshot(3);
  const seen: string[] = [];
  let tokens = 0;
  await withServer(async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/v3/auth/authenticate") {
      const body = await request.json();
      if (body.name === "root" && body.password === "s3cret-pass") {
        return Response.json({ header: {}, token: `token.${++tokens}` });
      }
      return Response.json({
        error: "etcdserver: authentication failed, invalid user ID or password",
        message: "etcdserver: authentication failed, invalid user ID or password",
        code: 3,
      }, { status: 400 });
    }
    seen.push(`${path} ${request.headers.get("authorization")}`);
    if (path === GRPC_PATH) return grpcResponse(grpcBody(snapshot));
    if (path === GATEWAY_PATH) return gatewayResponse(gatewayBody(snapshot));
    return Response.json({ version: "3.4.23", dbSize: "20480" });
  }, async (url) => {
    const client = new EtcdClient({ endpoints: [url], username: "root", password: "s3cret-pass" });
    try {
      await readAll(await client.snapshot({ transport: "grpc" }));
      await readAll(await client.snapshot({ transport: "gateway" }));
      assert.equal((await client.status()).dbSize, 20480);
    } finally {
      client.close();
    }
    assert.deepEqual(seen, [
      `${GRPC_PATH} token.1`,
      `${GATEWAY_PATH} token.2`,
      "/v3/maintenance/status token.3",
    ]);
    const wrong = new EtcdClient({ endpoints: [url], username: "root", password: "wrong-pass" });
    try {
      await assert.rejects(wrong.snapshot(), (error) => {
        etcdError(
          "InvalidArgument",
          /Cannot authenticate to etcd at ".*" as user "root": etcdserver: authentication failed, invalid user ID or password \(check the username and password\)/,
        )(error);
        assert.ok(!(error as Error).message.includes("wrong-pass"));
        return true;
      });
    } finally {
      wrong.close();
    }
  });
});

Deno.test("EtcdClient sends no token when etcd has authentication off", async () => {
  const snapshot = fakeSnapshot(3);
  let authorization: string | null = "unset";
  await withServer((request) => {
    if (new URL(request.url).pathname === "/v3/auth/authenticate") {
      return Response.json({
        error: "etcdserver: authentication is not enabled",
        message: "etcdserver: authentication is not enabled",
        code: 9,
      }, { status: 412 });
    }
    authorization = request.headers.get("authorization");
    return grpcResponse(grpcBody(snapshot));
  }, async (url) => {
    const client = new EtcdClient({ endpoints: [url], username: "root", password: "pass" });
    try {
      await readAll(await client.snapshot());
      assert.equal(authorization, null);
    } finally {
      client.close();
    }
  });
});

Deno.test("EtcdClient.status() reads the gateway's strings and omitted zeros", async () => {
  await withServer(() =>
    Response.json({
      header: { cluster_id: "1", member_id: "4106664859055566307", revision: "12", raft_term: "2" },
      version: "3.4.23",
      dbSize: "20480",
      leader: "4106664859055566307",
      raftTerm: "2",
    }), async (url) => {
    const client = new EtcdClient({ endpoints: [url] });
    try {
      assert.deepEqual(await client.status(), {
        endpoint: url,
        version: "3.4.23",
        dbSize: 20480,
        leader: "4106664859055566307",
        memberId: "4106664859055566307",
        raftIndex: "0",
        revision: "12",
      });
    } finally {
      client.close();
    }
  });
});

Deno.test("EtcdClient rejects bad options", () => {
  assert.throws(() => new EtcdClient({ endpoints: [] }), TypeError);
  assert.throws(() => new EtcdClient({ endpoints: ["127.0.0.1:2379"] }), /not a URL/);
  assert.throws(() => new EtcdClient({ endpoints: ["ftp://x"] }), /expected "http:\/\/"/);
  assert.throws(() => new EtcdClient({ endpoints: ["http://x/v3"] }), /no path/);
  assert.throws(
    () => new EtcdClient({ endpoints: ["http://root:hunter22@x:2379"] }),
    (error: unknown) =>
      error instanceof TypeError && !error.message.includes("hunter22") &&
      /credentials in the URL/.test(error.message),
  );
  assert.throws(() => new EtcdClient({ endpoints: ["http://x"], username: "root" }), TypeError);
  assert.throws(() => new EtcdClient({ endpoints: ["http://x"], certFile: "c.pem" }), TypeError);
  assert.throws(() => new EtcdClient({ endpoints: ["http://x"], timeoutMs: 0 }), RangeError);
});

Deno.test("EtcdClient.snapshot() rejects an unknown transport", async () => {
  const client = new EtcdClient({ endpoints: ["http://127.0.0.1:2379"] });
  await assert.rejects(client.snapshot({ transport: "udp" as "grpc" }), RangeError);
  client.close();
});

Deno.test("EtcdClient.close() is safe twice and later calls fail", async () => {
  const client = new EtcdClient({ endpoints: ["http://127.0.0.1:2379"] });
  client.close();
  client.close();
  await assert.rejects(client.status(), /the etcd client is closed/);
});

Deno.test("EtcdClient reports an unreadable TLS file by option name", async () => {
  const client = new EtcdClient({
    endpoints: ["https://127.0.0.1:2379"],
    caFile: "/nonexistent/ca.pem",
  });
  try {
    await assert.rejects(
      client.status(),
      /Cannot read the etcd CA certificate "\/nonexistent\/ca.pem": .* \(check "ca_file"\)/,
    );
  } finally {
    client.close();
  }
});
