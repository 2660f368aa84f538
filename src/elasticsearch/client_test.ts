// EsClient against small local servers on 127.0.0.1 that replay real answers (see _testdata.ts):
// failover, timeouts, size limits, unreadable answers, batching and retries.
import assert from "node:assert/strict";
import { EsClient, EsError } from "./mod.ts";
import { type CannedAnswer, ERRORS, SNAPSHOTS } from "./_testdata.ts";

type Handler = (request: Request, url: URL) => Response | Promise<Response>;

interface FakeServer {
  url: string;
  /** Method and path (with query) of each request, in order. */
  seen: string[];
  close(): Promise<void>;
}

/** Real answer of `GET /_nodes/_local?filter_path=nodes.*.version` on Elasticsearch 9.5.4. */
const NODES_9_5_4 = '{"nodes":{"YyoQcv7SRFulho0OJWKfLQ":{"version":"9.5.4"}}}';

function fakeServer(handler: Handler): FakeServer {
  const seen: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const url = new URL(request.url);
      seen.push(`${request.method} ${url.pathname}${url.search}`);
      return handler(request, url);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close: () => server.shutdown(),
  };
}

function json(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: {
      "content-type": "application/json",
      "x-elastic-product": "Elasticsearch",
      ...headers,
    },
  });
}

function canned(answer: CannedAnswer): Response {
  return json(answer.body, answer.status);
}

/** An Elasticsearch 9.5.4 whose `GET /` answers 405, as the integration-test zip does. */
function es9(rest: Handler): Handler {
  return (request, url) => {
    if (url.pathname === "/") return canned(ERRORS.root405);
    if (url.pathname === "/_nodes/_local") return json(NODES_9_5_4);
    return rest(request, url);
  };
}

/** A port nothing listens on. */
function deadUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `http://127.0.0.1:${port}`;
}

Deno.test("EsClient.info() falls back to the node info when GET / answers 405, and asks once", async () => {
  const server = fakeServer(es9(() => json("{}")));
  const client = new EsClient({ urls: [server.url] });
  try {
    assert.deepEqual(await client.info(), {
      flavour: "elasticsearch",
      version: "9.5.4",
      major: 9,
      minor: 5,
    });
    await client.info();
    assert.deepEqual(server.seen, ["GET /", "GET /_nodes/_local?filter_path=nodes.*.version"]);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("EsClient on OpenSearch sends cluster_manager_timeout and sorts listings itself", async () => {
  // Shape of OpenSearch's `GET /` as its documentation shows it (no OpenSearch server here).
  const root = JSON.stringify({
    name: "node-1",
    cluster_name: "os",
    version: { distribution: "opensearch", number: "2.11.1", lucene_version: "9.7.0" },
    tagline: "The OpenSearch Project: https://opensearch.org/",
  });
  const snapshot = (name: string, start: number): unknown => ({
    ...JSON.parse(SNAPSHOTS.success.body).snapshot,
    snapshot: name,
    start_time_in_millis: start,
  });
  const server = fakeServer((_request, url) => {
    if (url.pathname === "/") {
      return new Response(root, { headers: { "content-type": "application/json" } });
    }
    return new Response(
      JSON.stringify({ snapshots: [snapshot("b", 2), snapshot("c", 3), snapshot("a", 1)] }),
      {
        headers: { "content-type": "application/json; charset=UTF-8" },
      },
    );
  });
  const client = new EsClient({ urls: [server.url], timeoutMs: 5000 });
  try {
    assert.equal((await client.info()).flavour, "opensearch");
    const list = await client.listSnapshots("repo");
    assert.deepEqual(list.map((s) => s.snapshot), ["a", "b", "c"]);
    assert.equal(server.seen[1], "GET /_snapshot/repo/_all?cluster_manager_timeout=4000ms");
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("EsClient.info() tells OpenSearch by its version when GET / is refused", async () => {
  // Constructed answers (no OpenSearch here): a refused `GET /` and node info without the
  // `x-elastic-product` header that Elasticsearch 7.14+ sends.
  const server = fakeServer((_request, url) => {
    const headers = { "content-type": "application/json" };
    if (url.pathname === "/") {
      return new Response('{"error":"forbidden","status":403}', { status: 403, headers });
    }
    return new Response('{"nodes":{"n1":{"version":"1.3.19"}}}', { headers });
  });
  const client = new EsClient({ urls: [server.url] });
  try {
    assert.deepEqual(await client.info(), {
      flavour: "opensearch",
      version: "1.3.19",
      major: 1,
      minor: 3,
    });
    // OpenSearch 1.x still says master_timeout.
    await client.getRepository("r").catch(() => {});
    assert.match(server.seen.at(-1) ?? "", /\?master_timeout=/);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("EsClient pages snapshot listings on Elasticsearch 7.14+", async () => {
  const base = JSON.parse(SNAPSHOTS.success.body).snapshot;
  const server = fakeServer(es9((_request, url) => {
    const after = url.searchParams.get("after");
    const page = after === null
      ? { snapshots: [{ ...base, snapshot: "a" }], next: "n1", total: 2, remaining: 1 }
      : { snapshots: [{ ...base, snapshot: "b" }], total: 2, remaining: 0 };
    return json(JSON.stringify(page));
  }));
  const client = new EsClient({ urls: [server.url], timeoutMs: 5000 });
  try {
    assert.deepEqual((await client.listSnapshots("repo")).map((s) => s.snapshot), ["a", "b"]);
    assert.deepEqual(server.seen.slice(2), [
      "GET /_snapshot/repo/_all?master_timeout=4000ms&sort=start_time&order=asc&size=200",
      "GET /_snapshot/repo/_all?master_timeout=4000ms&sort=start_time&order=asc&size=200&after=n1",
    ]);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("EsClient fails over past a dead URL and a 502, and remembers the one that answered", async () => {
  const proxy = fakeServer(() => new Response("<html>502 Bad Gateway</html>", { status: 502 }));
  const server = fakeServer(es9(() => json("{}")));
  const tried: string[] = [];
  const countingFetch: typeof fetch = (input, init) => {
    tried.push(new URL(String(input)).origin);
    return fetch(input, init);
  };
  const dead = deadUrl();
  const client = new EsClient({ urls: [dead, proxy.url, server.url], fetch: countingFetch });
  try {
    assert.equal((await client.info()).version, "9.5.4");
    assert.deepEqual(tried.slice(0, 4), [dead, proxy.url, server.url, server.url]);
    tried.length = 0;
    await client.indexExists("x");
    assert.deepEqual(tried, [server.url]);
  } finally {
    await client.close();
    await proxy.close();
    await server.close();
  }
});

Deno.test("EsClient does not fail over on the server's own 503 and marks it retryable", async () => {
  const first = fakeServer(es9(() => canned(ERRORS.concurrentLimit)));
  const second = fakeServer(es9(() => json("{}")));
  const client = new EsClient({ urls: [first.url, second.url] });
  try {
    const error = await client.verifyRepository("r4").then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof EsError);
    assert.equal(error.type, "concurrent_snapshot_execution_exception");
    assert.equal(error.status, 503);
    assert.equal(error.retryable, true);
    assert.deepEqual(second.seen, []);
  } finally {
    await client.close();
    await first.close();
    await second.close();
  }
});

Deno.test("EsClient gives up with a retryable EsError when no URL answers in time", async () => {
  const release = Promise.withResolvers<void>();
  const hung = fakeServer(async () => {
    await release.promise;
    return new Response(null);
  });
  const dead = deadUrl();
  const client = new EsClient({ urls: [hung.url, dead], timeoutMs: 300 });
  try {
    const error = await client.info().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof EsError);
    assert.equal(error.type, "connection_error");
    assert.equal(error.retryable, true);
    assert.match(error.message, new RegExp(`"${hung.url}/" did not answer within 300 ms`));
    assert.match(error.message, new RegExp(`"${dead}/" is unreachable`));
  } finally {
    await client.close();
    release.resolve();
    await hung.close();
  }
});

Deno.test("EsClient refuses answers over the size limit, declared or streamed", async () => {
  const big = "x".repeat(5000);
  const server = fakeServer(es9((_request, url) => {
    if (url.pathname === "/_snapshot/declared") return json(`"${big}"`);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode(big));
      },
    });
    return new Response(stream, { headers: { "content-type": "application/json" } });
  }));
  const client = new EsClient({ urls: [server.url], maxResponseBytes: 4096 });
  try {
    for (const repo of ["declared", "streamed"]) {
      const error = await client.getRepository(repo).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof EsError, repo);
      assert.equal(error.type, "response_too_large");
      assert.match(error.message, /more than the limit of 4096 bytes/);
    }
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("EsClient names URL and status of an answer that is not JSON or is cut short", async () => {
  const server = fakeServer(es9((_request, url) => {
    if (url.pathname.startsWith("/_snapshot/html")) {
      return new Response("<html>login</html>", { headers: { "content-type": "text/html" } });
    }
    return json(SNAPSHOTS.success.body.slice(0, 100));
  }));
  const client = new EsClient({ urls: [server.url] });
  try {
    const html = await client.getRepository("html").then(() => undefined, (e: unknown) => e);
    assert.ok(html instanceof EsError);
    assert.equal(html.type, "invalid_response");
    assert.match(
      html.message,
      new RegExp(
        `HTTP 200 to GET "${server.url}/_snapshot/html\\?master_timeout=29000ms": invalid_response: expected JSON, got content type "text/html"`,
      ),
    );
    const cut = await client.getRepository("cut").then(() => undefined, (e: unknown) => e);
    assert.ok(cut instanceof EsError);
    assert.match(
      cut.message,
      /HTTP 200 .*the JSON answer is truncated or malformed \(100 characters\)/,
    );
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("EsClient.createSnapshot() returns a FAILED snapshot answered with HTTP 500", async () => {
  // Elasticsearch before 8 answers a FAILED snapshot with 500; the body is the real 9.5.4 one.
  const server = fakeServer(es9(() => json(SNAPSHOTS.failedAborted.body, 500)));
  const client = new EsClient({ urls: [server.url] });
  try {
    const info = await client.createSnapshot("r4", "slow1", { indices: "scratch-big" }, {
      waitForCompletion: true,
    });
    assert.equal(info.state, "FAILED");
    assert.equal(info.reason, "Snapshot was aborted by deletion");
    assert.match(
      server.seen[2] ?? "",
      /^PUT \/_snapshot\/r4\/slow1\?master_timeout=29000ms&wait_for_completion=true$/,
    );
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("EsClient.createSnapshot() checks the name and metadata before sending", async () => {
  const client = new EsClient({ urls: [deadUrl()] });
  try {
    await assert.rejects(
      client.createSnapshot("r", "Bad Name", {}, { waitForCompletion: false }),
      /Invalid snapshot name "Bad Name": must be lowercase/,
    );
    await assert.rejects(
      client.createSnapshot("r", "ok", { metadata: { big: "x".repeat(1100) } }, {
        waitForCompletion: false,
      }),
      /the server takes at most 1024/,
    );
  } finally {
    await client.close();
  }
});

Deno.test("EsClient.deleteSnapshots() batches URLs under 4 KB, retries concurrency refusals, skips missing names", async () => {
  const names = Array.from(
    { length: 300 },
    (_, i) => `snapcron-nightly-2026.11.25-${String(i).padStart(6, "0")}`,
  );
  const deleteCalls: string[] = [];
  let refusals = 1;
  const server = fakeServer(es9((request, url) => {
    const listed = decodeURIComponent(url.pathname.slice("/_snapshot/repo/".length)).split(",");
    if (request.method === "GET") {
      const existing = listed.filter((name) => name !== "gone");
      return json(
        JSON.stringify({ snapshots: existing.map((snapshot) => ({ snapshot, state: "SUCCESS" })) }),
      );
    }
    deleteCalls.push(url.pathname);
    if (listed.includes("gone")) return canned(ERRORS.snapshotMissing);
    if (refusals-- > 0) return canned(ERRORS.concurrentRestore);
    return json('{"acknowledged":true}');
  }));
  const client = new EsClient({ urls: [server.url] });
  try {
    const result = await client.deleteSnapshots("repo", [...names, "gone"], { backoffMs: 1 });
    assert.deepEqual(result.missing, ["gone"]);
    assert.deepEqual(result.deleted.sort(), [...names].sort());
    for (const path of deleteCalls) {
      assert.ok(`${server.url}${path}?master_timeout=29000ms`.length < 4000);
    }
    assert.ok(deleteCalls.length >= 4, `${deleteCalls.length} requests`);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("EsClient.deleteSnapshots() gives up after its retries with the retryable error", async () => {
  const server = fakeServer(es9(() => canned(ERRORS.concurrentRestore)));
  const client = new EsClient({ urls: [server.url] });
  try {
    const error = await client.deleteSnapshots("r4", ["slow2"], { retries: 2, backoffMs: 1 })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof EsError);
    assert.equal(error.retryable, true);
    assert.equal(server.seen.filter((line) => line.startsWith("DELETE")).length, 3);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("EsClient takes credentials from the URL and never shows them", async () => {
  let authorization: string | null = null;
  const server = fakeServer(es9((request) => {
    authorization = request.headers.get("authorization");
    return canned(ERRORS.repositoryMissing);
  }));
  const withCredentials = server.url.replace("http://", "http://elastic:s3cr%40t@");
  const client = new EsClient({ urls: [withCredentials] });
  try {
    assert.equal(await client.getRepository("nope"), undefined);
    assert.equal(authorization, `Basic ${btoa("elastic:s3cr@t")}`);
    const error = await client.verifyRepository("nope").then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof EsError);
    assert.doesNotMatch(error.message, /s3cr/);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("EsClient.close() can be called twice and later calls fail clearly", async () => {
  const client = new EsClient({ urls: ["http://127.0.0.1:9"], caFile: "/nonexistent/ca.pem" });
  await client.close();
  await client.close();
  await assert.rejects(client.info(), /the Elasticsearch client is closed/);
});

Deno.test("EsClient reports an unreadable CA file", async () => {
  const client = new EsClient({ urls: ["https://127.0.0.1:9"], caFile: "/nonexistent/ca.pem" });
  try {
    await assert.rejects(client.info(), /Cannot read the CA file "\/nonexistent\/ca.pem"/);
  } finally {
    await client.close();
  }
});

Deno.test("EsClient refuses bad options", () => {
  assert.throws(() => new EsClient({ urls: [] }), /give at least one URL/);
  assert.throws(() => new EsClient({ urls: ["ftp://x"] }), /expected http or https/);
  assert.throws(() => new EsClient({ urls: ["nonsense"] }), /not a URL/);
  assert.throws(() => new EsClient({ urls: ["http://x"], timeoutMs: 0 }), /"timeoutMs": 0/);
  assert.throws(
    () => new EsClient({ urls: ["http://x"], certFile: "c.pem" }),
    /both "cert_file" and "key_file"/,
  );
});

/** A CA and a server certificate for 127.0.0.1, made with openssl; false without openssl. */
async function makeCertificates(dir: string): Promise<boolean> {
  const run = async (...args: string[]): Promise<boolean> => {
    try {
      const { success } = await new Deno.Command("openssl", {
        args,
        cwd: dir,
        stdout: "null",
        stderr: "null",
      })
        .output();
      return success;
    } catch {
      return false;
    }
  };
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  return await run(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=snapcron test CA",
  ) &&
    await run("req", ...ec, "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1") &&
    await run(
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "cert.pem",
      "-days",
      "1",
      "-extfile",
      "leaf.ext",
    );
}

Deno.test("EsClient trusts a private CA given as caFile", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "snapcron-es-tls-" });
  try {
    if (!await makeCertificates(dir)) {
      await t.step({ name: "openssl is missing", ignore: true, fn: () => {} });
      return;
    }
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
      onListen: () => {},
    }, (request) => es9(() => json("{}"))(request, new URL(request.url)));
    const url = `https://127.0.0.1:${server.addr.port}`;
    const untrusting = new EsClient({ urls: [url] });
    const trusting = new EsClient({ urls: [url], caFile: `${dir}/ca.pem` });
    try {
      const error = await untrusting.info().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof EsError);
      assert.equal(error.type, "connection_error");
      assert.equal((await trusting.info()).version, "9.5.4");
    } finally {
      await untrusting.close();
      await trusting.close();
      await trusting.close();
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EsClient names the TLS key to set when a handshake fails", async () => {
  // What Deno's fetch throws, the rustls words in its cause (seen against stunnel here).
  const causes = {
    "received fatal alert: CertificateRequired":
      /TLS handshake failed: fetch failed: received fatal alert: CertificateRequired \(the server requires a client certificate: set "cert_file" and "key_file"\)$/,
    "received fatal alert: UnknownCA":
      /TLS handshake failed: .* \(the server refused the client certificate: "cert_file" must be signed by a CA it trusts\)$/,
    "client error (Connect): invalid peer certificate: UnknownIssuer":
      /TLS handshake failed: .* \(the server's certificate is not trusted: set "ca_file" to the CA that signed it\)$/,
    "client error (Connect): invalid peer certificate: NotValidForName":
      /\(the server's certificate does not name this host: use the host name it was issued for\)$/,
    "client error (Connect): tcp connect error: Connection refused (os error 111)":
      /is unreachable: fetch failed: client error \(Connect\): tcp connect error: Connection refused \(os error 111\) \(check the URLs, the network and that the cluster is up\)$/,
  };
  for (const [cause, expected] of Object.entries(causes)) {
    const failing: typeof fetch = () =>
      Promise.reject(new TypeError("fetch failed", { cause: new Error(cause) }));
    const client = new EsClient({ urls: ["https://es.example:9200"], fetch: failing });
    try {
      const error = await client.info().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof EsError);
      assert.equal(error.type, "connection_error");
      assert.match(error.message, expected);
    } finally {
      await client.close();
    }
  }
});
