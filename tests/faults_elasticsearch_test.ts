// Elasticsearch snapshots into an `fs` repository that stops being writable: the Elasticsearch
// process (user snapcron-es) is denied its repository's `indices` folder, which every shard
// snapshot writes into, while the repository root (and so `_verify`) stays writable.
import assert from "node:assert/strict";
import { collect, freePort, snapcron, spawnSnapcron, tempConfig, waitFor } from "./_cli.ts";
import { type EsTestEnv, fetchJson, serviceTest, uniqueName } from "./_helpers.ts";

async function es(env: EsTestEnv, method: string, path: string, body?: unknown) {
  const answer = await fetchJson(`${env.url}${path}`, { method, ...(body ? { body } : {}) });
  if (answer.status >= 300) {
    throw new Error(`${method} ${path}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return answer.body as Record<string, unknown>;
}

/** Adds `docs` documents to `index` (created when missing), so that a snapshot has new files. */
async function addDocs(env: EsTestEnv, index: string, docs: number): Promise<void> {
  const lines = [];
  for (let i = 0; i < docs; i++) lines.push(JSON.stringify({ index: {} }), JSON.stringify({ i }));
  const response = await fetch(`${env.url}/${index}/_bulk?refresh=true`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body: lines.join("\n") + "\n",
  });
  await response.body?.cancel();
  assert.equal(response.status, 200);
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
