// Hostile answers from servers other than Elasticsearch: a small HTTP server of our own that
// answers truncated JSON, the wrong content type, endless bodies and slow trickles, in front of
// snapcron's etcd client (with the real etcd as the next endpoint) and its ping/webhook delivery.
// It tests robustness to bad answers, not the integration, which tests/etcd_* cover.
import assert from "node:assert/strict";
import { EtcdClient, EtcdError } from "../src/etcd/mod.ts";
import { snapcron, tempConfig } from "./_cli.ts";
import { serviceTest } from "./_helpers.ts";

type Mode =
  | "truncated-json"
  | "html-502"
  | "hang"
  | "trickle"
  | "endless"
  | "endless-line";

const encoder = new TextEncoder();

/**
 * A raw TCP server that answers every request the `mode` way; `sent` counts the body bytes it
 * got out before the client went away.
 */
function hostileServer(mode: Mode, options: { sane?: string[] } = {}) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const stats = { sent: 0, requests: 0 };
  let closed = false;
  const write = async (conn: Deno.Conn, text: string | Uint8Array) => {
    const bytes = typeof text === "string" ? encoder.encode(text) : text;
    let offset = 0;
    while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    return bytes.length;
  };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const answer = async (conn: Deno.Conn) => {
    // The request head and small body come in one read on loopback.
    const request = new Uint8Array(64 * 1024);
    const length = await conn.read(request) ?? 0;
    stats.requests++;
    const head = new TextDecoder().decode(request.subarray(0, length));
    if (options.sane?.some((path) => head.startsWith(`POST ${path} `))) {
      // Like etcd 3.4's gateway, so that the hostile part comes later (the snapshot).
      const status = `{"header":{"cluster_id":"1","member_id":"2","revision":"7"},` +
        `"version":"3.4.23","dbSize":"20480","leader":"2","raftIndex":"9"}`;
      await write(
        conn,
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${status.length}\r\n\r\n${status}`,
      );
      return;
    }
    switch (mode) {
      case "truncated-json":
        // Declares 500 bytes, sends 25, hangs up.
        await write(
          conn,
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n` +
            `{"header":{"cluster_id":"`,
        );
        return;
      case "html-502": {
        const html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
        await write(
          conn,
          `HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: ${html.length}\r\n\r\n${html}`,
        );
        return;
      }
      case "hang":
        await sleep(60_000);
        return;
      case "trickle":
        await write(
          conn,
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n`,
        );
        for (;;) {
          stats.sent += await write(conn, " ");
          await sleep(100);
        }
      case "endless":
      case "endless-line": {
        await write(
          conn,
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`,
        );
        const data = "A".repeat(64 * 1024);
        const first = mode === "endless-line" ? `{"result":{"blob":"` : `{"version":"`;
        stats.sent += await write(conn, `${first.length.toString(16)}\r\n${first}\r\n`);
        for (;;) {
          stats.sent += await write(conn, `${data.length.toString(16)}\r\n${data}\r\n`);
        }
      }
    }
  };
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      answer(conn).catch(() => {}).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch {
          // Closed by close().
        }
      });
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    stats,
    close() {
      if (closed) return;
      closed = true;
      listener.close();
      for (const conn of conns) conn.close();
    },
  };
}

async function withHostile(
  mode: Mode,
  fn: (server: ReturnType<typeof hostileServer>) => Promise<void>,
  options: { sane?: string[] } = {},
) {
  const server = hostileServer(mode, options);
  try {
    await fn(server);
  } finally {
    server.close();
  }
}

serviceTest(
  "EtcdClient: an endpoint that answers a proxy's HTML 502 or trickles is skipped for the next one",
  { services: ["etcd"] },
  async ({ etcd }) => {
    for (const mode of ["html-502", "trickle", "hang"] as const) {
      await withHostile(mode, async (hostile) => {
        const client = new EtcdClient({ endpoints: [hostile.url, etcd.url], timeoutMs: 500 });
        try {
          const started = Date.now();
          const status = await client.status();
          assert.equal(status.endpoint, etcd.url, mode);
          assert.ok(Date.now() - started < 3000, `${mode}: took ${Date.now() - started} ms`);
          assert.equal(hostile.stats.requests, 1, `${mode}: one try of the bad endpoint`);
        } finally {
          client.close();
        }
      });
    }
  },
);

serviceTest(
  "EtcdClient: every endpoint hostile gives one error naming each endpoint and what it did",
  { services: ["etcd"] },
  async () => {
    const servers = (["html-502", "trickle"] as const).map((mode) => hostileServer(mode));
    const client = new EtcdClient({ endpoints: servers.map((s) => s.url), timeoutMs: 500 });
    try {
      await assert.rejects(client.status(), (error) => {
        assert.ok(error instanceof EtcdError);
        assert.match(error.message, /^Cannot get the status from any etcd endpoint: /);
        assert.ok(
          error.message.includes(`"${servers[0]!.url}": HTTP 502: <html><body><h1>502 Bad Gateway`),
          error.message,
        );
        assert.ok(
          error.message.includes(`"${servers[1]!.url}": no answer within 500 ms`),
          error.message,
        );
        return true;
      });
    } finally {
      client.close();
      for (const server of servers) server.close();
    }
  },
);

serviceTest(
  "EtcdClient: an endless answer is cut at the answer limit and the next endpoint serves",
  { services: ["etcd"] },
  async ({ etcd }) => {
    await withHostile("endless", async (hostile) => {
      const client = new EtcdClient({ endpoints: [hostile.url, etcd.url], timeoutMs: 5000 });
      try {
        assert.equal((await client.status()).endpoint, etcd.url);
      } finally {
        client.close();
      }
      const only = new EtcdClient({ endpoints: [hostile.url], timeoutMs: 5000 });
      try {
        await assert.rejects(only.status(), (error) => {
          assert.ok(error instanceof EtcdError, String(error));
          assert.equal(error.code, "ResourceExhausted");
          assert.equal(
            error.message,
            `Cannot get the status at "${hostile.url}": answer over the limit of 1048576 bytes (is "${hostile.url}" an etcd client URL?)`,
          );
          return true;
        });
      } finally {
        only.close();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.ok(hostile.stats.sent < 32 * 1024 * 1024, `server sent ${hostile.stats.sent} bytes`);
    });
  },
);

serviceTest(
  "EtcdClient: truncated JSON from an endpoint is reported with the endpoint, not crashed on",
  { services: ["etcd"] },
  async () => {
    await withHostile("truncated-json", async (hostile) => {
      const client = new EtcdClient({ endpoints: [hostile.url], timeoutMs: 2000 });
      try {
        await assert.rejects(client.status(), (error) => {
          assert.ok(error instanceof EtcdError, String(error));
          assert.equal(error.endpoint, hostile.url);
          assert.equal(error.code, "Unavailable");
          assert.match(
            error.message,
            new RegExp(
              `^Cannot get the status at "${hostile.url}": error reading a body from connection \\(check that etcd runs`,
            ),
          );
          return true;
        });
      } finally {
        client.close();
      }
    });
  },
);

serviceTest(
  "EtcdClient: a gateway snapshot line that never ends stops at the line limit",
  { services: ["etcd"] },
  async () => {
    await withHostile("endless-line", async (hostile) => {
      const client = new EtcdClient({ endpoints: [hostile.url], timeoutMs: 2000 });
      try {
        const stream = await client.snapshot({ transport: "gateway" });
        await assert.rejects(new Response(stream.body).arrayBuffer(), (error) => {
          assert.ok(error instanceof EtcdError, String(error));
          assert.equal(error.code, "ResourceExhausted");
          assert.equal(error.endpoint, hostile.url);
          assert.match(
            error.message,
            new RegExp(
              `^Snapshot from "${hostile.url}" failed: line 1 of the gateway snapshot stream is longer than the limit of 1048576 bytes`,
            ),
          );
          return true;
        });
        await assert.rejects(stream.done);
      } finally {
        client.close();
      }
      // Socket buffers hold a few MiB; without the limit the server would go on for ever.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.ok(hostile.stats.sent < 32 * 1024 * 1024, `server sent ${hostile.stats.sent} bytes`);
    });
  },
);

serviceTest(
  "etcd job: a snapshot that trickles in for ever is ended by the job's timeout",
  { services: ["etcd"] },
  async () => {
    await withHostile("trickle", async (hostile) => {
      const dir = await Deno.makeTempDir();
      const config = await tempConfig(`
storage:
  local: { type: local, path: "${dir}/backups" }
jobs:
  etcd:
    schedule: "@hourly"
    timeout: 2s
    etcd: { endpoints: ["${hostile.url}"], transport: gateway, request_timeout: 1s }
    upload: { storage: local }
`);
      try {
        const started = Date.now();
        const once = await snapcron(["once", "etcd", "--config", config]);
        assert.equal(once.code, 1, once.stderr);
        assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
        assert.doesNotMatch(once.stderr, /^\s+at /m, "no stack trace");
        assert.match(once.stderr, /Run failed: Timed out after 2s: /);
        assert.ok(hostile.stats.sent > 0, "the snapshot had started");
        const list = await snapcron(["list", "etcd", "--config", config, "--json"]);
        assert.deepEqual(JSON.parse(list.stdout), [], "nothing stored");
      } finally {
        await Deno.remove(dir, { recursive: true });
        await Deno.remove(config);
      }
    }, { sane: ["/v3/maintenance/status"] });
  },
);

// A monitoring endpoint that hangs or answers without end must not hold up the run or grow
// snapcron's memory: `once` exits with the job's status after at most the notifier's grace.
const PING_MODES = { hang: "never answers", endless: "answers without end", trickle: "trickles" };
for (const mode of ["hang", "endless", "trickle"] as const) {
  Deno.test(`once: a ping URL that ${PING_MODES[mode]} does not hold up the run`, async () => {
    await withHostile(mode, async (hostile) => {
      const config = await tempConfig(`
status: { listen: "127.0.0.1:0" }
jobs:
  quick:
    schedule: "@hourly"
    command: ["echo", "done"]
    ping_url: ${hostile.url}/ping/uuid-1234
    webhook_url: ${hostile.url}/hook
    webhook_on: always
`);
      try {
        const started = Date.now();
        const once = await snapcron(["once", "quick", "--config", config]);
        const took = Date.now() - started;
        assert.equal(once.code, 0, once.stderr);
        assert.match(once.stdout + once.stderr, /done/);
        // 5 s of shutdown grace for deliveries under way, plus start-up.
        assert.ok(took < 12_000, `took ${took} ms`);
        if (mode === "hang") {
          assert.match(once.stderr, /Could not deliver ping (start|success): /);
          assert.match(once.stderr, /Could not deliver webhook: not delivered within 5000 ms/);
        }
        assert.ok(hostile.stats.sent < 32 * 1024 * 1024, `server sent ${hostile.stats.sent} bytes`);
      } finally {
        await Deno.remove(config);
      }
    });
  });
}
