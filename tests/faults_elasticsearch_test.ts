// Elasticsearch faults: a repository that stops being writable (on the shared node: the
// Elasticsearch process, user snapcron-es, is denied its repository's `indices` folder, which
// every shard snapshot writes into, while the repository root and so `_verify` stay writable);
// a node stopped mid-snapshot, a snapshot refused as concurrent and a red index (on a private
// node, since they stop it or change cluster settings); hostile answers from an HTTP server of
// our own that is not Elasticsearch at all.
import assert from "node:assert/strict";
import { EsClient, EsError } from "../src/elasticsearch/mod.ts";
import { collect, freePort, snapcron, spawnSnapcron, tempConfig, waitFor } from "./_cli.ts";
import { bulkDocs, esRequest, type PrivateEs, startPrivateEs } from "./_es.ts";
import { type EsTestEnv, fetchJson, serviceTest, uniqueName } from "./_helpers.ts";

function es(env: EsTestEnv, method: string, path: string, body?: unknown) {
  return esRequest(env.url, method, path, body);
}

function addDocs(env: EsTestEnv, index: string, docs: number, textBytes = 0): Promise<void> {
  return bulkDocs(env.url, index, docs, textBytes);
}

interface Fixture {
  repo: string;
  index: string;
  /** The repository's folder on disk, inside the node's `path.repo`. */
  location: string;
  config: string;
}

async function fixture(env: EsTestEnv, extra = "", schedule = "@daily"): Promise<Fixture> {
  const repo = uniqueName("snapcron-faults");
  const index = uniqueName("faults");
  const location = `${env.repoPath}/${repo}`;
  await es(env, "PUT", `/${index}`, {
    settings: { number_of_shards: 1, number_of_replicas: 0 },
  });
  await addDocs(env, index, 50);
  const config = await tempConfig(`${extra}
jobs:
  nightly:
    schedule: "${schedule}"
    elasticsearch:
      urls: ["${env.url}"]
      repository: { name: ${repo}, type: fs, settings: { location: "${location}" } }
      snapshot: "faults-{job}-%Y%m%d-%H%M%S"
      indices: ["${index}"]
`);
  return { repo, index, location, config };
}

/** Gives the folder back, deletes snapshots, repository, index, folder and config. */
async function cleanup(env: EsTestEnv, f: Fixture): Promise<void> {
  await Deno.chmod(`${f.location}/indices`, 0o755).catch(() => {});
  const listed = await fetchJson(`${env.url}/_snapshot/${f.repo}/_all`);
  const names = ((listed.body as { snapshots?: { snapshot: string }[] })?.snapshots ?? [])
    .map((snapshot) => snapshot.snapshot);
  if (names.length > 0) {
    await fetchJson(`${env.url}/_snapshot/${f.repo}/${names.join(",")}`, { method: "DELETE" });
  }
  await fetchJson(`${env.url}/_snapshot/${f.repo}`, { method: "DELETE" });
  await fetchJson(`${env.url}/${f.index}`, { method: "DELETE" });
  await Deno.remove(f.location, { recursive: true }).catch(() => {});
  await Deno.remove(f.config);
}

/** Snapshot names are per second: let the clock move on before the next run. */
function nextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1100));
}

serviceTest(
  "Elasticsearch: an unwritable repository folder fails the run with the reason; fixed, the next run succeeds",
  { services: ["es"] },
  async ({ es: env }) => {
    const f = await fixture(env);
    try {
      // The first run registers the repository and creates its folders.
      const first = await snapcron(["once", "nightly", "--config", f.config]);
      assert.equal(first.code, 0, first.stderr);

      await Deno.chmod(`${f.location}/indices`, 0o000);
      await addDocs(env, f.index, 10);
      await nextSecond();
      const denied = await snapcron(["once", "nightly", "--config", f.config]);
      assert.equal(denied.code, 1, denied.stderr);
      assert.match(
        denied.stderr,
        new RegExp(
          `Snapshot "faults-nightly-\\d{8}-\\d{6}" is partial: 0/1 shards, 1 failed: index "${f.index}" shard 0: .*AccessDeniedException\\[${f.location}/indices/`,
        ),
      );

      await Deno.chmod(`${f.location}/indices`, 0o755);
      await nextSecond();
      const fixed = await snapcron(["once", "nightly", "--config", f.config]);
      assert.equal(fixed.code, 0, fixed.stderr);
      assert.match(fixed.stderr, /SUCCESS: 1 indices, 1\/1 shards/);
    } finally {
      await cleanup(env, f);
    }
  },
);

// deno-lint-ignore no-explicit-any -- the status JSON is checked field by field below
async function status(url: string): Promise<{ code: number; body: Record<string, any> }> {
  const response = await fetch(url);
  return { code: response.status, body: await response.json() };
}

serviceTest(
  "Elasticsearch: snapcron run answers 503 on / while the repository is unwritable, 200 once fixed",
  { services: ["es"] },
  async ({ es: env }) => {
    const port = freePort();
    const f = await fixture(
      env,
      `status: { listen: "127.0.0.1:${port}" }\nshutdown_grace: 10s`,
      "*/2 * * * * *",
    );
    const base = `http://127.0.0.1:${port}`;
    try {
      // One good run first, so that the repository and its folders exist.
      const first = await snapcron(["once", "nightly", "--config", f.config]);
      assert.equal(first.code, 0, first.stderr);
      await Deno.chmod(`${f.location}/indices`, 0o000);
      await addDocs(env, f.index, 10);

      const child = spawnSnapcron(["run", "--config", f.config]);
      const stdout = collect(child.stdout);
      const stderr = collect(child.stderr);
      try {
        const failing = await waitFor("a failed run to make / answer 503", async () => {
          const answer = await status(`${base}/`);
          return answer.code === 503 ? answer : undefined;
        }, 30_000);
        assert.equal(failing.body.healthy, false);
        assert.equal(failing.body.jobs.nightly.state, "failed");
        assert.match(failing.body.Last.Stderr, /is partial: .*AccessDeniedException/);

        await Deno.chmod(`${f.location}/indices`, 0o755);
        const healthy = await waitFor("a good run to make / answer 200", async () => {
          const answer = await status(`${base}/`);
          return answer.code === 200 ? answer : undefined;
        }, 30_000);
        assert.equal(healthy.body.healthy, true);
        assert.equal(healthy.body.jobs.nightly.state, "ok");
      } finally {
        child.kill("SIGTERM");
        await Promise.all([stdout.done, stderr.done]);
      }
      assert.equal((await child.status).code, 0, stderr.text());
    } finally {
      await cleanup(env, f);
    }
  },
);

// ---------------------------------------------------------------------------------------------
// On a private node, started once (about 20 s) for the tests below and closed by the last one.

let privateNode: Promise<PrivateEs> | undefined;

function privateEs(shared: EsTestEnv): Promise<PrivateEs> {
  privateNode ??= startPrivateEs(shared);
  return privateNode;
}

/** The private node's child process outlives each test: no resource sanitizer here. */
const PRIVATE = { services: ["es"], sanitizeOps: false, sanitizeResources: false } as const;

/** Deletes `repos` (snapshots first) and `indices` on `env`, ignoring what is gone already. */
async function removeAll(env: EsTestEnv, repos: string[], indices: string[]): Promise<void> {
  for (const repo of repos) {
    const listed = await fetchJson(`${env.url}/_snapshot/${repo}/_all?verbose=false`)
      .catch(() => undefined);
    const names = ((listed?.body as { snapshots?: { snapshot: string }[] })?.snapshots ?? [])
      .map((snapshot) => snapshot.snapshot);
    if (names.length > 0) {
      // A throttled snapshot can take minutes to abort: do not wait for it.
      await fetchJson(`${env.url}/_snapshot/${repo}/${names.join(",")}?wait_for_completion=false`, {
        method: "DELETE",
      }).catch(() => {});
    }
    await fetchJson(`${env.url}/_snapshot/${repo}`, { method: "DELETE" }).catch(() => {});
  }
  for (const index of indices) {
    await fetchJson(`${env.url}/${index}`, { method: "DELETE" }).catch(() => {});
  }
}

async function makeIndex(env: EsTestEnv, index: string, docs: number, textBytes: number) {
  await es(env, "PUT", `/${index}`, { settings: { number_of_shards: 1, number_of_replicas: 0 } });
  await addDocs(env, index, docs, textBytes);
}

serviceTest(
  "Elasticsearch stopped mid-snapshot: the run fails naming the unreachable node, / answers 503, the first run after the restart succeeds",
  PRIVATE,
  async ({ es: shared }) => {
    const node = await privateEs(shared);
    const index = uniqueName("crash");
    const repo = uniqueName("crash");
    // About 300 KB at 128 KB/s: the snapshot runs for seconds, long enough to pull the plug.
    await makeIndex(node, index, 300, 1000);
    const port = freePort();
    const config = await tempConfig(`status: { listen: "127.0.0.1:${port}" }
shutdown_grace: 10s
jobs:
  nightly:
    schedule: "*/2 * * * * *"
    elasticsearch:
      urls: ["${node.url}"]
      repository:
        name: ${repo}
        type: fs
        settings: { location: "${node.repoPath}/${repo}", max_snapshot_bytes_per_sec: 128kb }
      snapshot: "crash-{job}-%Y%m%d-%H%M%S"
      indices: ["${index}"]
`);
    const base = `http://127.0.0.1:${port}`;
    const child = spawnSnapcron(["run", "--config", config]);
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    try {
      await waitFor("a snapshot to be running", async () => {
        const current = await fetchJson(`${node.url}/_snapshot/${repo}/_current`);
        const running = (current.body as { snapshots?: unknown[] } | undefined)?.snapshots;
        return running && running.length > 0 ? true : undefined;
      }, 60_000);
      await node.stop("SIGKILL");

      // Generous limits: they only matter when the machine is very busy.
      const failing = await waitFor("the failed run to make / answer 503", async () => {
        const answer = await status(`${base}/`);
        return answer.code === 503 ? answer : undefined;
      }, 90_000);
      assert.equal(failing.body.jobs.nightly.state, "failed");
      const reason = String(failing.body.Last.Stderr);
      assert.ok(reason.includes(`"${node.url}/`), reason);
      assert.match(
        reason,
        /connection_error: .* is unreachable: .*\(check the URLs, the network and that the cluster is up\)/,
      );

      await node.start();
      const healthy = await waitFor("a run after the restart to make / answer 200", async () => {
        const answer = await status(`${base}/`);
        return answer.code === 200 ? answer : undefined;
      }, 180_000);
      assert.equal(healthy.body.jobs.nightly.state, "ok");
      assert.match(String(healthy.body.Last.Stdout), /SUCCESS: 1 indices, 1\/1 shards/);
    } finally {
      child.kill("SIGTERM");
      await Promise.all([stdout.done, stderr.done]);
      await child.status;
      await Deno.remove(config);
      await removeAll(node, [repo], [index]);
    }
  },
);

serviceTest(
  "Elasticsearch job: a snapshot refused as concurrent is retried with back-off until the other ends, and fails with the refusal when the deadline comes first",
  PRIVATE,
  async ({ es: shared }) => {
    const node = await privateEs(shared);
    const index = uniqueName("busy");
    const repo = uniqueName("busy-job");
    const blockers = [uniqueName("busy-a"), uniqueName("busy-b")];
    await makeIndex(node, index, 600, 1000);
    // `_verify` runs on the node's snapshot threads, which a throttled snapshot holds (one
    // thread on two cores): both jobs skip it, or it would wait for the blocker to end.
    const job = (name: string, timeout: string, verify: boolean) =>
      `  ${name}:
    schedule: "@daily"
    timeout: ${timeout}
    elasticsearch:
      urls: ["${node.url}"]
      repository:
        name: ${repo}
        type: fs
        settings: { location: "${node.repoPath}/${repo}" }
        verify: ${verify}
      snapshot: "busy-{job}-%Y%m%d-%H%M%S"
      indices: ["${index}"]
`;
    // Enough time for the hasty job to connect and try at least once on a busy machine.
    const config = await tempConfig(
      `jobs:\n${job("patient", "90s", false)}${job("hasty", "10s", false)}`,
    );
    /** Starts a snapshot (about 500 KB) that holds the only slot while it copies at `rate`. */
    const block = async (blocker: string, rate: string) => {
      await es(node, "PUT", `/_snapshot/${blocker}`, {
        type: "fs",
        settings: { location: `${node.repoPath}/${blocker}`, max_snapshot_bytes_per_sec: rate },
      });
      await es(node, "PUT", `/_snapshot/${blocker}/blocker?wait_for_completion=false`, {
        indices: index,
        include_global_state: false,
      });
    };
    await es(node, "PUT", "/_cluster/settings", {
      persistent: { "snapshot.max_concurrent_operations": 1 },
    });
    try {
      // Done in about 20 s: still running after the job connected and created its repository,
      // which took 9 s on a loaded machine.
      await block(blockers[0]!, "32kb");
      const started = performance.now();
      const patient = await snapcron(["once", "patient", "--config", config]);
      assert.equal(patient.code, 0, patient.stderr);
      assert.match(
        patient.stderr,
        /Cannot start the snapshot yet \(concurrent_snapshot_execution_exception\): retrying/,
      );
      assert.match(patient.stderr, /Snapshot "busy-patient-\d{8}-\d{6}" SUCCESS: 1 indices/);
      assert.ok(performance.now() - started > 2000, "it waited for the other snapshot");
      // The other snapshot was waited for, not pushed aside.
      const first = await es(node, "GET", `/_snapshot/${blockers[0]}/blocker`);
      assert.equal((first.snapshots as { state: string }[])[0]?.state, "SUCCESS");

      // Still running when the hasty job's timeout comes (it is aborted when cleaning up).
      await block(blockers[1]!, "32kb");
      const hasty = await snapcron(["once", "hasty", "--config", config]);
      assert.equal(hasty.code, 1, hasty.stderr);
      assert.match(
        hasty.stderr,
        /Could not start snapshot "busy-hasty-\d{8}-\d{6}" in [1-9] attempt\(s\) before the run ended: Elasticsearch answered HTTP 503 to PUT .*: concurrent_snapshot_execution_exception: .*Cannot start another operation, already running \[1\] operations and the current limit for concurrent snapshot operations is set to \[1\]/,
      );
      assert.match(hasty.stderr, /Timed out after 10s/);
    } finally {
      await es(node, "PUT", "/_cluster/settings", {
        persistent: { "snapshot.max_concurrent_operations": null },
      });
      await Deno.remove(config);
      await removeAll(node, [...blockers, repo], [index]);
    }
  },
);

serviceTest(
  "Elasticsearch job: a red index fails the run naming it; once it is allocated the next run succeeds",
  PRIVATE,
  async ({ es: shared }) => {
    const node = await privateEs(shared);
    const index = uniqueName("red");
    const repo = uniqueName("red");
    const config = await tempConfig(`jobs:
  nightly:
    schedule: "@daily"
    elasticsearch:
      urls: ["${node.url}"]
      repository: { name: ${repo}, type: fs, settings: { location: "${node.repoPath}/${repo}" } }
      indices: ["${index}"]
`);
    try {
      // A primary that no node may hold: the index, and so the cluster, is red.
      await es(node, "PUT", `/${index}?wait_for_active_shards=0`, {
        settings: {
          number_of_shards: 1,
          number_of_replicas: 0,
          "index.routing.allocation.require._name": "nowhere",
        },
      });
      const health = await es(node, "GET", `/_cluster/health/${index}`);
      assert.equal(health.status, "red");

      const red = await snapcron(["once", "nightly", "--config", config]);
      assert.equal(red.code, 1, red.stderr);
      assert.match(
        red.stderr,
        new RegExp(
          `Run failed: .*snapshot_exception: .*the following indices have unassigned primary shards and cannot be included in a snapshot unless \\[partial\\] is set to \\[true\\]: \\[${index}\\]`,
        ),
      );

      await es(node, "PUT", `/${index}/_settings`, {
        "index.routing.allocation.require._name": null,
      });
      await es(node, "GET", `/_cluster/health/${index}?wait_for_status=green&timeout=30s`);
      await addDocs(node, index, 10);
      const fixed = await snapcron(["once", "nightly", "--config", config]);
      assert.equal(fixed.code, 0, fixed.stderr);
      assert.match(fixed.stderr, /SUCCESS: 1 indices, 1\/1 shards/);
    } finally {
      await Deno.remove(config);
      await removeAll(node, [repo], [index]);
      // The last test on the private node.
      await node.close();
      privateNode = undefined;
    }
  },
);

// ---------------------------------------------------------------------------------------------
// Hostile answers: an HTTP server of our own stands where Elasticsearch should be.

/** Serves `handler` on 127.0.0.1; `bytesSent` counts what streamed bodies pushed out. */
function hostileServer(handler: (sent: { bytes: number }) => Response) {
  const sent = { bytes: 0 };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => handler(sent),
  );
  return { url: `http://127.0.0.1:${server.addr.port}`, sent, close: () => server.shutdown() };
}

async function rejection(promise: Promise<unknown>): Promise<EsError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof EsError, `expected an EsError, got ${String(error)}`);
  return error;
}

/** A body that sends `chunk` every `everyMs` until the reader goes away. */
function endless(sent: { bytes: number }, chunk: Uint8Array, everyMs = 0): ReadableStream {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (everyMs > 0) await new Promise((resolve) => setTimeout(resolve, everyMs));
      sent.bytes += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

Deno.test("EsClient reports truncated JSON and a wrong content type with the URL and a hint", async () => {
  const truncated = hostileServer(() =>
    new Response('{"name":"node-1","version":{"number":"9.5', {
      headers: { "content-type": "application/json" },
    })
  );
  const html = hostileServer(() =>
    new Response("<html><body>Please log in</body></html>", {
      headers: { "content-type": "text/html; charset=utf-8" },
    })
  );
  const clients = [new EsClient({ urls: [truncated.url] }), new EsClient({ urls: [html.url] })];
  try {
    const cut = await rejection(clients[0]!.info());
    assert.equal(cut.type, "invalid_response");
    assert.equal(cut.retryable, false);
    assert.ok(cut.message.includes(`GET "${truncated.url}/"`), cut.message);
    assert.match(
      cut.message,
      /the JSON answer is truncated or malformed \(41 characters\): \{"name":"node-1".*\(is this URL an Elasticsearch or OpenSearch node\?\)/,
    );
    const page = await rejection(clients[1]!.info());
    assert.equal(page.type, "invalid_response");
    assert.match(
      page.message,
      /expected JSON, got content type "text\/html; charset=utf-8": <html><body>Please log in/,
    );
  } finally {
    for (const client of clients) await client.close();
    await truncated.close();
    await html.close();
  }
});

Deno.test("EsClient stops reading a huge answer at its size limit", async () => {
  const chunk = new TextEncoder().encode(`{"pad":"${"x".repeat(64 * 1024)}"},`);
  // No content length: the limit must hold while streaming, not only on a declared size.
  const huge = hostileServer((sent) =>
    new Response(endless(sent, chunk), { headers: { "content-type": "application/json" } })
  );
  const client = new EsClient({ urls: [huge.url], maxResponseBytes: 4 * 1024 * 1024 });
  try {
    const started = performance.now();
    const error = await rejection(client.info());
    assert.equal(error.type, "response_too_large");
    assert.match(
      error.message,
      /the answer is over 4194304 bytes, more than the limit of 4194304 bytes \(raise maxResponseBytes or ask for less\)/,
    );
    assert.ok(performance.now() - started < 10_000);
    // Reading stopped at the limit: the server could push little more than that.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(huge.sent.bytes < 16 * 1024 * 1024, `server sent ${huge.sent.bytes} bytes`);
  } finally {
    await client.close();
    await huge.close();
  }
});

Deno.test("A slow trickle of an answer fails the run at request_timeout, naming the URL", async () => {
  const byte = new TextEncoder().encode(" ");
  const trickle = hostileServer((sent) =>
    new Response(endless(sent, byte, 100), { headers: { "content-type": "application/json" } })
  );
  const config = await tempConfig(`jobs:
  nightly:
    schedule: "@daily"
    elasticsearch:
      urls: ["${trickle.url}"]
      request_timeout: 2s
      repository: { name: nightly, type: fs, settings: { location: "/tmp/nowhere" } }
`);
  try {
    const started = performance.now();
    const run = await snapcron(["once", "nightly", "--config", config]);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(run.code, 1, run.stderr);
    assert.ok(
      run.stderr.includes(
        `Elasticsearch request failed to GET "${trickle.url}/": timeout: "${trickle.url}/" did not answer within 2000 ms`,
      ),
      run.stderr,
    );
    // Bytes kept coming, yet the timeout held: about 2 s, plus the start of a Deno process.
    assert.ok(seconds < 15, `took ${seconds} s`);
    assert.ok(trickle.sent.bytes > 5);
  } finally {
    await Deno.remove(config);
    await trickle.close();
  }
});
