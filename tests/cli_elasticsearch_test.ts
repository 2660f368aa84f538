// snapcron's elasticsearch job kind end to end: `once`, `list`, `retention` and `restore`
// against the real Elasticsearch test node, each test in its own repository and indices.
import assert from "node:assert/strict";
import { snapcron, tempConfig, waitFor } from "./_cli.ts";
import { type EsTestEnv, fetchJson, serviceTest, uniqueName } from "./_helpers.ts";

async function es(env: EsTestEnv, method: string, path: string, body?: unknown) {
  const answer = await fetchJson(`${env.url}${path}`, { method, ...(body ? { body } : {}) });
  if (answer.status >= 300) {
    throw new Error(`${method} ${path}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return answer.body as Record<string, unknown>;
}

async function makeIndex(env: EsTestEnv, index: string, docs: number): Promise<void> {
  await es(env, "PUT", `/${index}`, { settings: { number_of_shards: 1, number_of_replicas: 0 } });
  const lines = [];
  for (let i = 0; i < docs; i++) {
    lines.push(JSON.stringify({ index: {} }), JSON.stringify({ n: i }));
  }
  const response = await fetch(`${env.url}/${index}/_bulk?refresh=true`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body: lines.join("\n") + "\n",
  });
  await response.body?.cancel();
  assert.equal(response.status, 200);
}

async function count(env: EsTestEnv, index: string): Promise<number> {
  const body = await es(env, "GET", `/${index}/_count`);
  return body.count as number;
}

function configFor(_env: EsTestEnv, _repo: string, jobs: string): Promise<string> {
  return tempConfig(`jobs:\n${jobs}`);
}

function job(env: EsTestEnv, name: string, repo: string, extra: string): string {
  return `  ${name}:
    schedule: "@daily"
    elasticsearch:
      urls: ["${env.url}"]
      repository: { name: ${repo}, type: fs, settings: { location: "${env.repoPath}/${repo}" } }
      snapshot: "snap-{job}-%Y%m%d-%H%M%S"
${extra.split("\n").filter(Boolean).map((line) => `      ${line}`).join("\n")}
`;
}

async function cleanup(env: EsTestEnv, repo: string, indices: string[]): Promise<void> {
  const listed = await fetchJson(`${env.url}/_snapshot/${repo}/_all`);
  const names = ((listed.body as { snapshots?: { snapshot: string }[] })?.snapshots ?? [])
    .map((s) => s.snapshot);
  if (names.length > 0) {
    await fetchJson(`${env.url}/_snapshot/${repo}/${names.join(",")}`, { method: "DELETE" });
  }
  await fetchJson(`${env.url}/_snapshot/${repo}`, { method: "DELETE" });
  for (const index of indices) await fetchJson(`${env.url}/${index}`, { method: "DELETE" });
  // Deleting a repository leaves its files: remove the folder too (we run as root here).
  await Deno.remove(`${env.repoPath}/${repo}`, { recursive: true }).catch(() => {});
}

serviceTest(
  "elasticsearch job: snapshots, SLM-style retention, list and a renamed restore round trip",
  { services: ["es"] },
  async ({ es: env }) => {
    const repo = uniqueName("snapcron-e2e");
    const index = uniqueName("docs");
    await makeIndex(env, index, 250);
    const config = await configFor(
      env,
      repo,
      job(
        env,
        "nightly",
        repo,
        `indices: ["${index}"]\nretention: { max_count: 2, schedule: "@daily" }`,
      ),
    );
    try {
      for (let i = 0; i < 3; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1100)); // names are per second
        const run = await snapcron(["once", "nightly", "--config", config]);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /SUCCESS: 1 indices, 1\/1 shards/);
      }
      const listed = await snapcron(["list", "nightly", "--config", config, "--json"]);
      assert.equal(listed.code, 0, listed.stderr);
      const snapshots = JSON.parse(listed.stdout);
      assert.equal(snapshots.length, 2, "max_count: 2 deleted the oldest");
      assert.ok(
        snapshots.every((s: { metadata: Record<string, unknown> }) =>
          s.metadata.snapcron_job === "nightly"
        ),
      );

      const verify = await snapcron(["verify", "nightly", "--config", config]);
      assert.equal(verify.code, 0, verify.stderr);
      assert.match(
        verify.stdout,
        new RegExp(`elasticsearch 9\\.\\d+\\.\\d+: repository "${repo}" verified on `),
      );
      const scheduled = await snapcron(["once", "nightly.retention", "--config", config]);
      assert.equal(scheduled.code, 0, scheduled.stderr);
      assert.match(scheduled.stderr, /Retention deleted 0 snapshot\(s\) of "nightly"/);

      const plan = await snapcron(["retention", "nightly", "--dry-run", "--config", config]);
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stdout, /KEEP .*newest-success/);
      assert.match(plan.stdout, /0 to delete, 2 to keep/);

      const refused = await snapcron(["restore", "nightly", "latest", "--config", config]);
      assert.equal(refused.code, 2);
      assert.match(
        refused.stderr,
        new RegExp(`would overwrite open index "${index}": pass --close-existing`),
      );

      const restored = await snapcron([
        "restore",
        "nightly",
        "latest",
        "--config",
        config,
        "--rename-pattern",
        "(.+)",
        "--rename-replacement",
        "restored-$1",
      ]);
      assert.equal(restored.code, 0, restored.stderr);
      assert.match(restored.stdout, /Restored 1 indices \(1\/1 shards\)/);
      assert.equal(await count(env, `restored-${index}`), 250);
    } finally {
      await cleanup(env, repo, [index, `restored-${index}`]);
      await Deno.remove(config);
    }
  },
);

serviceTest(
  "elasticsearch job: a PARTIAL snapshot fails the run unless allowed, and an empty one too",
  { services: ["es"] },
  async ({ es: env }) => {
    const repo = uniqueName("snapcron-e2e");
    const good = uniqueName("good");
    const stuck = uniqueName("stuck");
    await makeIndex(env, good, 10);
    // A primary that can never be allocated: the snapshot of it can only be PARTIAL.
    await es(env, "PUT", `/${stuck}?wait_for_active_shards=0`, {
      settings: {
        number_of_shards: 1,
        number_of_replicas: 0,
        "index.routing.allocation.require._name": "nonexistent",
      },
    });
    const config = await configFor(
      env,
      repo,
      job(env, "strict", repo, `indices: ["${good}", "${stuck}"]\npartial: true`) +
        job(
          env,
          "lenient",
          repo,
          `indices: ["${good}", "${stuck}"]\npartial: true\nallow_partial: true`,
        ) +
        job(env, "empty", repo, `indices: ["${uniqueName("nothing")}*"]\nignore_unavailable: true`),
    );
    try {
      const strict = await snapcron(["once", "strict", "--config", config]);
      assert.equal(strict.code, 1, strict.stderr);
      assert.match(strict.stderr, /PARTIAL/);
      assert.match(strict.stderr, new RegExp(stuck));
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const lenient = await snapcron(["once", "lenient", "--config", config]);
      assert.equal(lenient.code, 0, lenient.stderr);
      const empty = await snapcron(["once", "empty", "--config", config]);
      assert.equal(empty.code, 1, empty.stderr);
      assert.match(empty.stderr, /no ind|matched no|empty/i);
    } finally {
      await cleanup(env, repo, [good, stuck]);
      await Deno.remove(config);
    }
  },
);

serviceTest(
  "elasticsearch job: hitting the timeout fails the run and aborts the snapshot",
  { services: ["es"] },
  async ({ es: env }) => {
    const repo = uniqueName("snapcron-e2e");
    const index = uniqueName("slow");
    await makeIndex(env, index, 20_000);
    // A throttled repository keeps the snapshot running well past the job's timeout.
    const config = await tempConfig(`jobs:
  slow:
    schedule: "@daily"
    timeout: 3s
    kill_grace: 1s
    elasticsearch:
      urls: ["${env.url}"]
      repository:
        name: ${repo}
        type: fs
        settings: { location: "${env.repoPath}/${repo}", max_snapshot_bytes_per_sec: 100kb }
      indices: ["${index}"]
`);
    try {
      const started = Date.now();
      const run = await snapcron(["once", "slow", "--config", config]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /Timed out after 3s/);
      assert.match(run.stderr, /Aborted snapshot "snapcron-slow-/);
      assert.ok(Date.now() - started < 30_000);
      const left = await waitFor("the aborted snapshot to go", async () => {
        const listed = await fetchJson(`${env.url}/_snapshot/${repo}/_all`);
        const snapshots = (listed.body as { snapshots: unknown[] }).snapshots;
        return snapshots.length === 0 ? snapshots : undefined;
      }, 60_000);
      assert.deepEqual(left, []);
    } finally {
      await cleanup(env, repo, [index]);
      await Deno.remove(config);
    }
  },
);
