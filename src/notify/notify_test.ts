import assert from "node:assert/strict";
import { createLogger, createRedactor, silentLogger } from "../log/mod.ts";
import { type RunRecord, RunStore } from "../runner/mod.ts";
import { Notifier, type NotifyTarget } from "./mod.ts";

interface Received {
  method: string;
  path: string;
  query: string;
  body: string;
}

/** A real HTTP receiver on 127.0.0.1 that answers with the given statuses in turn. */
function receiver(statuses: number[] = []) {
  const received: Received[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      received.push({
        method: request.method,
        path: url.pathname,
        query: url.search,
        body: await request.text(),
      });
      return new Response("OK", { status: statuses.shift() ?? 200 });
    },
  );
  return { received, url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

function record(result: "success" | "failure", exitStatus: number): RunRecord {
  return {
    job: "backup",
    id: `run-${result}`,
    trigger: "schedule",
    startedAt: new Date("2026-01-01T00:00:00Z"),
    endedAt: new Date("2026-01-01T00:00:02Z"),
    result,
    exitStatus,
    attempts: 1,
    stdout: "dumping\n",
    stderr: result === "success" ? "" : "disk full\n",
    artifacts: [],
  };
}

Deno.test("Notifier pings start, then success, paired by rid", async () => {
  const hc = receiver();
  const store = new RunStore();
  const notifier = new Notifier(new Map([["backup", { pingUrl: `${hc.url}/ping/abc` }]]), {
    log: silentLogger(),
  });
  notifier.attach(store);
  const run = record("success", 0);
  store.update({ ...run, stdout: "" });
  store.finish(run);
  await notifier.idle();
  await notifier.close();
  await hc.close();
  assert.deepEqual(hc.received.map((r) => r.path), ["/ping/abc/start", "/ping/abc"]);
  const rid = hc.received[0]!.query;
  assert.match(rid, /^\?rid=[0-9a-f-]{36}$/);
  assert.equal(hc.received[1]!.query, rid);
  assert.match(hc.received[1]!.body, /dumping/);
});

Deno.test("Notifier pings the exit status with the output tail on failure and calls the webhook", async () => {
  const hc = receiver();
  const hook = receiver();
  const store = new RunStore();
  const notifier = new Notifier(
    new Map([["backup", { pingUrl: `${hc.url}/p`, webhookUrl: `${hook.url}/hook` }]]),
    { log: silentLogger(), hostname: "host-1" },
  );
  notifier.attach(store);
  store.finish(record("failure", 3));
  await notifier.idle();
  await notifier.close();
  await Promise.all([hc.close(), hook.close()]);
  assert.equal(hc.received[0]!.path, "/p/3");
  assert.match(hc.received[0]!.body, /disk full/);
  const payload = JSON.parse(hook.received[0]!.body);
  assert.equal(payload.job, "backup");
  assert.equal(payload.result, "failure");
  assert.equal(payload.exit_status, 3);
  assert.equal(payload.host, "host-1");
  assert.equal(payload.duration_seconds, 2);
  assert.match(payload.stderr_tail, /disk full/);
});

Deno.test("Notifier calls the webhook for successes only with webhook_on: always", async () => {
  const hook = receiver();
  const store = new RunStore();
  const targets = new Map<string, NotifyTarget>([["backup", {
    webhookUrl: `${hook.url}/h`,
    webhookOn: "failure",
  }]]);
  const notifier = new Notifier(targets, { log: silentLogger() });
  notifier.attach(store);
  store.finish(record("success", 0));
  await notifier.idle();
  assert.equal(hook.received.length, 0);
  targets.set("backup", { webhookUrl: `${hook.url}/h`, webhookOn: "always" });
  store.finish(record("success", 0));
  await notifier.idle();
  await notifier.close();
  await hook.close();
  assert.equal(hook.received.length, 1);
});

Deno.test("Notifier retries a 503 and gives up on a 404, logging without the URL's secret", async () => {
  const hc = receiver([503, 503, 200, 404]);
  const lines: string[] = [];
  const pingUrl = `${hc.url}/ping/secret-uuid-1234`;
  const log = createLogger({
    write: (line) => lines.push(line),
    redact: createRedactor([pingUrl]),
  });
  const store = new RunStore();
  const notifier = new Notifier(new Map([["backup", { pingUrl }]]), {
    log,
    retryBackoffMs: 10,
    retries: 3,
  });
  notifier.attach(store);
  store.finish(record("success", 0));
  await notifier.idle();
  assert.equal(hc.received.length, 3, "two retries after 503, then delivered");
  store.finish(record("failure", 1));
  await notifier.idle();
  await notifier.close();
  await hc.close();
  assert.equal(hc.received.length, 4, "a 404 is not retried");
  assert.ok(lines.some((line) => line.includes("Could not deliver ping failure: HTTP 404")));
  assert.ok(lines.every((line) => !line.includes("secret-uuid-1234")));
});

Deno.test("Notifier never holds up a run when the receiver hangs", async () => {
  const hanging = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  (async () => {
    for await (const conn of hanging) accepted.push(conn);
  })();
  const port = (hanging.addr as Deno.NetAddr).port;
  const store = new RunStore();
  const notifier = new Notifier(new Map([["backup", { pingUrl: `http://127.0.0.1:${port}/p` }]]), {
    log: silentLogger(),
    timeoutMs: 200,
    retries: 0,
  });
  notifier.attach(store);
  const started = Date.now();
  store.finish(record("success", 0));
  assert.ok(Date.now() - started < 50, "finish() returned at once");
  await notifier.idle();
  assert.ok(Date.now() - started < 2000, "the timeout ended the delivery");
  await notifier.close();
  hanging.close();
  for (const conn of accepted) conn.close();
});

Deno.test("Notifier sends the end ping only after a slow start ping was delivered", async () => {
  const arrived: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      await request.body?.cancel();
      if (path.endsWith("/start")) await new Promise((resolve) => setTimeout(resolve, 300));
      arrived.push(path);
      return new Response("OK");
    },
  );
  const store = new RunStore();
  const notifier = new Notifier(
    new Map([["backup", { pingUrl: `http://127.0.0.1:${server.addr.port}/p` }]]),
    { log: silentLogger() },
  );
  notifier.attach(store);
  const run = record("success", 0);
  store.update(run);
  store.finish(run);
  await notifier.idle();
  await notifier.close();
  await server.shutdown();
  assert.deepEqual(arrived, ["/p/start", "/p"]);
});

/** Accepts connections and never answers; `close()` drops them. */
function hangingServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close() {
      listener.close();
      for (const conn of accepted) conn.close();
    },
  };
}

function capturingLogger() {
  const lines: string[] = [];
  return { lines, log: createLogger({ write: (line) => lines.push(line) }) };
}

Deno.test("Notifier names its time limit when the receiver never answers", async () => {
  const server = hangingServer();
  const { lines, log } = capturingLogger();
  const store = new RunStore();
  const notifier = new Notifier(new Map([["backup", { webhookUrl: `${server.url}/h` }]]), {
    log,
    timeoutMs: 200,
    retries: 1,
    retryBackoffMs: 10,
  });
  notifier.attach(store);
  store.finish(record("failure", 1));
  await notifier.idle();
  await notifier.close();
  server.close();
  assert.ok(
    lines.some((line) =>
      line.includes("Could not deliver webhook: no answer within 200 ms (the monitoring endpoint")
    ),
    lines.join(""),
  );
});

Deno.test("Notifier at shutdown waits its grace only, then says what it dropped", async () => {
  const server = hangingServer();
  const { lines, log } = capturingLogger();
  const store = new RunStore();
  const notifier = new Notifier(new Map([["backup", { pingUrl: `${server.url}/p` }]]), {
    log,
    timeoutMs: 60_000,
  });
  notifier.attach(store);
  store.finish(record("success", 0));
  const started = Date.now();
  await notifier.close(150);
  assert.ok(Date.now() - started < 1500, `close() took ${Date.now() - started} ms`);
  server.close();
  assert.ok(
    lines.some((line) =>
      line.includes("Could not deliver ping success: not delivered within 150 ms of shutting down")
    ),
    lines.join(""),
  );
});

Deno.test("Notifier reads no answer body: an endless one is dropped at once", async () => {
  let sent = 0;
  let cancelled!: () => void;
  const dropped = new Promise<void>((resolve) => cancelled = resolve);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      await request.body?.cancel();
      const chunk = new Uint8Array(64 * 1024).fill(0x41);
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          sent += chunk.length;
          controller.enqueue(chunk);
        },
        cancel() {
          cancelled();
        },
      });
      return new Response(body, { status: 500 });
    },
  );
  const { lines, log } = capturingLogger();
  const store = new RunStore();
  const notifier = new Notifier(
    new Map([["backup", { pingUrl: `http://127.0.0.1:${server.addr.port}/p` }]]),
    { log, retries: 1, retryBackoffMs: 10 },
  );
  notifier.attach(store);
  const started = Date.now();
  store.finish(record("success", 0));
  await notifier.idle();
  await dropped;
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  await notifier.close();
  await server.shutdown();
  assert.ok(lines.some((line) => line.includes("Could not deliver ping success: HTTP 500")));
  // What the server got out before the connection closed: socket buffers, not the body.
  assert.ok(sent < 32 * 1024 * 1024, `the server sent ${sent} bytes`);
});
