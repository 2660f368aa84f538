// EsClient against the real Elasticsearch test node (scripts/services.sh up es). Each test makes
// its own repository and indices under unique names and removes them afterwards.
import assert from "node:assert/strict";
import {
  classifySnapshot,
  EsClient,
  EsError,
  type SnapshotProgress,
} from "../src/elasticsearch/mod.ts";
import { bulkDocs } from "./_es.ts";
import { type EsTestEnv, fetchJson, serviceTest, uniqueName } from "./_helpers.ts";

const ES = { services: ["es"] } as const;

/** One request the client sent, as the fetch wrapper saw it. */
interface Sent {
  at: number;
  method: string;
  path: string;
  status: number;
}

/** A client whose requests are recorded. */
function recordingClient(es: EsTestEnv, urls = [es.url]): { client: EsClient; sent: Sent[] } {
  const sent: Sent[] = [];
  const recording: typeof fetch = async (input, init) => {
    const at = performance.now();
    const response = await fetch(input, init);
    const url = new URL(String(input));
    sent.push({ at, method: init?.method ?? "GET", path: url.pathname, status: response.status });
    return response;
  };
  return { client: new EsClient({ urls, fetch: recording, timeoutMs: 20_000 }), sent };
}

/** Everything a test made, removed in `finally` whatever happened. */
class Scratch {
  readonly repos: string[] = [];
  readonly indices: string[] = [];
  readonly dirs: string[] = [];
  constructor(readonly es: EsTestEnv) {}

  repo(prefix = "snapcron-test-repo"): { name: string; location: string } {
    const name = uniqueName(prefix);
    const location = `${this.es.repoPath}/${name}`;
    this.repos.push(name);
    this.dirs.push(location);
    return { name, location };
  }

  index(prefix = "snapcron-test-idx"): string {
    const name = uniqueName(prefix);
    this.indices.push(name);
    return name;
  }

  async cleanup(): Promise<void> {
    // Best effort: the assertions tell what failed, cleanup must not hide it.
    for (const repo of this.repos) {
      const listed = await fetchJson(`${this.es.url}/_snapshot/${repo}/_all?verbose=false`)
        .catch(() => undefined);
      const snapshots = (listed?.body as { snapshots?: { snapshot: string }[] } | undefined)
        ?.snapshots ?? [];
      if (snapshots.length > 0) {
        const names = snapshots.map((s) => encodeURIComponent(s.snapshot)).join(",");
        await fetchJson(`${this.es.url}/_snapshot/${repo}/${names}`, { method: "DELETE" })
          .catch(() => {});
      }
      await fetchJson(`${this.es.url}/_snapshot/${repo}`, { method: "DELETE" }).catch(() => {});
    }
    // Wildcard deletes are refused (action.destructive_requires_name): resolve names first.
    for (const index of this.indices) {
      const listed = await fetchJson(
        `${this.es.url}/_cat/indices/${index}*?format=json&h=index&expand_wildcards=all`,
      ).catch(() => undefined);
      const rows = Array.isArray(listed?.body) ? listed.body as { index: string }[] : [];
      for (const row of rows) {
        await fetchJson(`${this.es.url}/${row.index}`, { method: "DELETE" }).catch(() => {});
      }
    }
    // The node writes as its own user and some tests lock directories: tests run as root or as
    // that user, and `rm` ignores modes for the owner of the parent.
    for (const dir of this.dirs) {
      await makeWritable(dir);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}

async function makeWritable(dir: string): Promise<void> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) {
        await Deno.chmod(`${dir}/${entry.name}`, 0o755).catch(() => {});
        await makeWritable(`${dir}/${entry.name}`);
      }
    }
  } catch {
    // Missing or unreadable: nothing to do.
  }
}

/** Creates an index of `docs` documents of about `docBytes` bytes of incompressible text. */
async function makeIndex(
  es: EsTestEnv,
  index: string,
  options: { docs: number; docBytes?: number; shards?: number; settings?: Record<string, unknown> },
): Promise<void> {
  const created = await fetchJson(`${es.url}/${index}?wait_for_active_shards=0`, {
    method: "PUT",
    body: {
      settings: {
        number_of_shards: options.shards ?? 1,
        number_of_replicas: 0,
        ...options.settings,
      },
    },
  });
  assert.equal(created.status, 200, `index creation answered ${JSON.stringify(created.body)}`);
  if (options.docs > 0) await bulkDocs(es.url, index, options.docs, options.docBytes ?? 100);
}

async function docCount(es: EsTestEnv, index: string): Promise<number> {
  const answer = await fetchJson(`${es.url}/${index}/_count`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return (answer.body as { count: number }).count;
}

async function rejection(promise: Promise<unknown>): Promise<EsError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof EsError, `expected an EsError, got ${String(error)}`);
  return error;
}

/** Waits (briefly polling) until the snapshot shows as running. */
async function untilRunning(client: EsClient, repo: string, name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const info = await client.getSnapshot(repo, name);
    if (info?.state === "IN_PROGRESS") return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`snapshot "${name}" never showed as running`);
}

serviceTest("EsClient.info() detects Elasticsearch where GET / answers 405", ES, async ({ es }) => {
  const root = await fetchJson(`${es.url}/`);
  const { client, sent } = recordingClient(es);
  try {
    const info = await client.info();
    assert.equal(info.flavour, "elasticsearch");
    assert.equal(info.version, es.version);
    assert.equal(info.major, Number(es.version.split(".")[0]));
    await client.info();
    if (root.status === 405) {
      // The integration-test zip: the fallback to the local node's info was taken, once.
      assert.deepEqual(sent.map((s) => `${s.status} ${s.path}`), ["405 /", "200 /_nodes/_local"]);
    } else {
      assert.deepEqual(sent.map((s) => s.path), ["/"]);
    }
  } finally {
    await client.close();
  }
});

serviceTest("EsClient fails over from a dead URL to the live one", ES, async ({ es }) => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dead = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  const { client, sent } = recordingClient(es, [dead, es.url]);
  try {
    assert.equal((await client.info()).version, es.version);
    assert.equal(await client.getRepository(uniqueName("snapcron-test-none")), undefined);
    // The dead URL is not tried again once the live one answered.
    assert.equal(sent.every((s) => s.status > 0), true);
    assert.equal(sent.length, (await fetchJson(`${es.url}/`)).status === 405 ? 3 : 2);
  } finally {
    await client.close();
  }
});

serviceTest(
  "EsClient.ensureRepository() creates, finds and refuses a mismatch; verify lists nodes",
  ES,
  async ({ es }) => {
    const scratch = new Scratch(es);
    const client = new EsClient({ urls: [es.url] });
    try {
      const { name, location } = scratch.repo();
      assert.equal(await client.getRepository(name), undefined);
      const spec = { type: "fs", settings: { location, compress: true } };
      assert.equal(await client.ensureRepository(name, spec), "created");
      assert.equal(await client.ensureRepository(name, spec), "exists");
      assert.deepEqual(await client.getRepository(name), {
        type: "fs",
        settings: { location, compress: "true" },
      });
      const mismatch = await rejection(
        client.ensureRepository(name, {
          type: "fs",
          settings: { location: `${location}-other`, compress: false, chunk_size: "10mb" },
        }),
      );
      assert.equal(mismatch.type, "repository_settings_mismatch");
      assert.equal(mismatch.retryable, false);
      assert.match(
        mismatch.message,
        new RegExp(`location: "${location}" on the server, "${location}-other" wanted`),
      );
      assert.match(mismatch.message, /compress: "true" on the server, "false" wanted/);
      assert.match(mismatch.message, /chunk_size: unset on the server, "10mb" wanted/);

      const nodes = await client.verifyRepository(name);
      assert.equal(nodes.length, 1);
      assert.equal(typeof nodes[0]?.name, "string");

      const outside = scratch.repo();
      const refused = await rejection(
        client.ensureRepository(outside.name, {
          type: "fs",
          settings: { location: "/tmp/snapcron-outside-path-repo" },
        }),
      );
      assert.equal(refused.type, "repository_exception");
      assert.match(refused.message, /doesn't match any of the locations specified by path.repo/);
    } finally {
      await client.close();
      await scratch.cleanup();
    }
  },
);

serviceTest(
  "EsClient snapshots with and without waiting, plain and date-math names",
  ES,
  async ({ es }) => {
    const scratch = new Scratch(es);
    const client = new EsClient({ urls: [es.url] });
    try {
      const index = scratch.index();
      await makeIndex(es, index, { docs: 50 });
      const repo = scratch.repo();
      await client.ensureRepository(repo.name, {
        type: "fs",
        settings: { location: repo.location },
      });
      const body = { indices: index, include_global_state: false, metadata: { by: "snapcron" } };

      const waited = await client.createSnapshot(repo.name, "snap-waited", body, {
        waitForCompletion: true,
      });
      assert.equal(waited.state, "SUCCESS");
      assert.deepEqual(waited.indices, [index]);
      assert.deepEqual(waited.metadata, { by: "snapcron" });
      assert.deepEqual(classifySnapshot(waited).ok, true);

      const started = await client.createSnapshot(repo.name, "snap-later", body, {
        waitForCompletion: false,
      });
      assert.equal(started.snapshot, "snap-later");
      assert.ok(["IN_PROGRESS", "SUCCESS"].includes(started.state));
      const done = await client.waitForSnapshot(repo.name, "snap-later");
      assert.equal(done.state, "SUCCESS");

      // Date math resolves on the server (UTC, default format yyyy.MM.dd).
      const today = new Date().toISOString().slice(0, 10).replaceAll("-", ".");
      const math = await client.createSnapshot(repo.name, "<math-{now/d}>", body, {
        waitForCompletion: true,
      });
      assert.equal(math.snapshot, `math-${today}`);
      const found = await client.createSnapshot(
        repo.name,
        "<later-{now/d{yyyy.MM.dd|+00:00}}-x>",
        body,
        {
          waitForCompletion: false,
        },
      );
      assert.equal(found.snapshot, `later-${today}-x`);
      assert.equal((await client.waitForSnapshot(repo.name, found.snapshot)).state, "SUCCESS");

      // Names the server would refuse never leave the client.
      await assert.rejects(
        client.createSnapshot(repo.name, "Upper", body, { waitForCompletion: true }),
        /Invalid snapshot name "Upper": must be lowercase/,
      );
      await assert.rejects(
        client.createSnapshot(repo.name, "<x-{now/d{MMM}}>", body, { waitForCompletion: true }),
        /prints a capitalised month name/,
      );
      const missingRepo = await rejection(
        client.createSnapshot(uniqueName("snapcron-test-none"), "x", body, {
          waitForCompletion: true,
        }),
      );
      assert.equal(missingRepo.type, "repository_missing_exception");
      assert.equal(missingRepo.status, 404);
    } finally {
      await client.close();
      await scratch.cleanup();
    }
  },
);

serviceTest(
  "EsClient.waitForSnapshot() reports progress and polls at most once a second",
  ES,
  async ({ es }) => {
    const scratch = new Scratch(es);
    const { client, sent } = recordingClient(es);
    try {
      const index = scratch.index();
      await makeIndex(es, index, { docs: 1500, docBytes: 1000, shards: 2 });
      const repo = scratch.repo();
      // Throttled so that the snapshot runs for seconds, long enough to watch.
      await client.ensureRepository(repo.name, {
        type: "fs",
        settings: { location: repo.location, max_snapshot_bytes_per_sec: "512kb" },
      });
      const started = await client.createSnapshot(repo.name, "watched", {
        indices: index,
        include_global_state: false,
      }, {
        waitForCompletion: false,
      });
      const createdAt = sent.at(-1)?.at ?? 0;
      const progress: SnapshotProgress[] = [];
      const from = sent.length;
      const done = await client.waitForSnapshot(repo.name, "watched", {
        intervalMs: 200, // raised to the 1000 ms floor
        onProgress: (p) => progress.push(p),
        current: started, // as just read: the first poll waits an interval
      });
      const polls = sent.slice(from);
      assert.equal(done.state, "SUCCESS");
      assert.ok(progress.length >= 2, `only ${progress.length} progress reports`);
      const withBytes = progress.filter((p) => (p.bytesTotal ?? 0) > 0);
      assert.ok(withBytes.length >= 1, JSON.stringify(progress));
      assert.ok(progress.every((p) => p.shardsTotal === 2));
      // Cheap requests only: the snapshot itself and the repository's running-snapshots status.
      for (const poll of polls) {
        assert.ok(
          poll.path === `/_snapshot/${repo.name}/watched` ||
            poll.path === `/_snapshot/${repo.name}/_status`,
          poll.path,
        );
      }
      assert.ok((polls[0]?.at ?? 0) - createdAt >= 990, "the first poll waits an interval");
      // One request a second while the snapshot runs; the result is read straight after the
      // status stopped listing it, so the last gap may be short.
      assert.equal(polls.at(-1)?.path, `/_snapshot/${repo.name}/watched`);
      for (let i = 1; i < polls.length - 1; i++) {
        const gap = (polls[i]?.at ?? 0) - (polls[i - 1]?.at ?? 0);
        assert.ok(gap >= 990, `requests ${gap.toFixed(0)} ms apart`);
      }
      // A snapshot that has finished is returned as it is, without a request.
      const before = sent.length;
      assert.equal(
        await client.waitForSnapshot(repo.name, "watched", { current: done }),
        done,
      );
      assert.equal(sent.length, before);
    } finally {
      await client.close();
      await scratch.cleanup();
    }
  },
);

serviceTest(
  "EsClient reads a real FAILED snapshot and tells it from snapshot errors",
  ES,
  async ({ es }) => {
    const scratch = new Scratch(es);
    const { client, sent } = recordingClient(es);
    try {
      const index = scratch.index();
      await makeIndex(es, index, { docs: 2000, docBytes: 1000 });
      const body = { indices: index, include_global_state: false };

      // FAILED: a snapshot deleted while it runs is aborted and the waiting create answers FAILED.
      const slow = scratch.repo();
      await client.ensureRepository(slow.name, {
        type: "fs",
        settings: { location: slow.location, max_snapshot_bytes_per_sec: "256kb" },
      });
      const waiting = client.createSnapshot(slow.name, "aborted", body, {
        waitForCompletion: true,
      });
      await untilRunning(client, slow.name, "aborted");
      assert.equal(await client.cancelSnapshot(slow.name, "aborted"), true);
      const failed = await waiting;
      assert.equal(failed.state, "FAILED");
      assert.equal(failed.reason, "Snapshot was aborted by deletion");
      assert.ok(failed.failures.length > 0 && failed.failures.every((f) => f.reason === "aborted"));
      const verdict = classifySnapshot(failed, { allowPartial: true, allowEmpty: true });
      assert.equal(verdict.ok, false);
      assert.match(
        verdict.reason,
        /failed: Snapshot was aborted by deletion; index ".*" shard 0: aborted/,
      );
      // 9.5.4 answers this FAILED snapshot with 200; Elasticsearch 7 answered 500. Either way the
      // body is the snapshot.
      const put = sent.find((s) => s.method === "PUT" && s.path.endsWith("/aborted"));
      assert.ok(put !== undefined && [200, 500].includes(put.status), JSON.stringify(put));
      // The cancel only schedules the deletion (ES 8+): the snapshot goes shortly after.
      for (let i = 0; i < 100 && await client.getSnapshot(slow.name, "aborted"); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(await client.getSnapshot(slow.name, "aborted"), undefined);
      assert.equal(await client.cancelSnapshot(slow.name, "aborted"), false);

      // An unwritable `indices/` directory fails finalization: an error, not a FAILED snapshot.
      const locked = scratch.repo();
      await client.ensureRepository(locked.name, {
        type: "fs",
        settings: { location: locked.location },
      });
      // Verifying makes the repository's folder, as the node's user.
      await client.verifyRepository(locked.name);
      await Deno.mkdir(`${locked.location}/indices`, { mode: 0o555 });
      await Deno.chmod(`${locked.location}/indices`, 0o555);
      const finalization = await rejection(
        client.createSnapshot(locked.name, "locked", body, { waitForCompletion: true }),
      );
      assert.equal(finalization.type, "snapshot_exception");
      assert.equal(finalization.status, 500);
      assert.match(
        finalization.message,
        /failed to update snapshot in repository; caused by: .*access_denied_exception/,
      );
      assert.deepEqual(await client.listSnapshots(locked.name), []);

      // Unwritable shard directories fail every shard, yet the snapshot ends PARTIAL, even with
      // partial false.
      const shardLocked = scratch.repo();
      await client.ensureRepository(shardLocked.name, {
        type: "fs",
        settings: { location: shardLocked.location },
      });
      assert.equal(
        (await client.createSnapshot(shardLocked.name, "first", body, { waitForCompletion: true }))
          .state,
        "SUCCESS",
      );
      for await (const indexDir of Deno.readDir(`${shardLocked.location}/indices`)) {
        for await (
          const shardDir of Deno.readDir(`${shardLocked.location}/indices/${indexDir.name}`)
        ) {
          if (shardDir.isDirectory) {
            await Deno.chmod(
              `${shardLocked.location}/indices/${indexDir.name}/${shardDir.name}`,
              0o555,
            );
          }
        }
      }
      await fetchJson(`${es.url}/${index}/_doc?refresh=true`, {
        method: "POST",
        body: { n: -1, text: "more" },
      });
      const shardsFailed = await client.createSnapshot(shardLocked.name, "second", {
        ...body,
        partial: false,
      }, {
        waitForCompletion: true,
      });
      assert.equal(shardsFailed.state, "PARTIAL");
      assert.equal(shardsFailed.shards.successful, 0);
      assert.match(shardsFailed.failures[0]?.reason ?? "", /AccessDeniedException/);
    } finally {
      await client.close();
      await scratch.cleanup();
    }
  },
);

serviceTest(
  "EsClient reads a real PARTIAL snapshot of an index without a primary",
  ES,
  async ({ es }) => {
    const scratch = new Scratch(es);
    const { client, sent } = recordingClient(es);
    try {
      const healthy = scratch.index();
      await makeIndex(es, healthy, { docs: 10 });
      const red = scratch.index();
      await makeIndex(es, red, {
        docs: 0,
        settings: { "index.routing.allocation.require._name": "nonexistent" },
      });
      const repo = scratch.repo();
      await client.ensureRepository(repo.name, {
        type: "fs",
        settings: { location: repo.location },
      });
      const body = { indices: [healthy, red], include_global_state: false };

      const partial = await client.createSnapshot(
        repo.name,
        "partial",
        { ...body, partial: true },
        {
          waitForCompletion: true,
        },
      );
      assert.equal(partial.state, "PARTIAL");
      assert.equal(sent.at(-1)?.status, 200);
      assert.deepEqual(partial.shards, { total: 2, failed: 1, successful: 1 });
      assert.deepEqual(partial.failures.map((f) => [f.index, f.shard_id, f.reason]), [
        [red, 0, "primary shard is not allocated"],
      ]);
      assert.equal(classifySnapshot(partial).ok, false);
      assert.equal(classifySnapshot(partial, { allowPartial: true }).ok, true);

      // Without `partial` the server refuses to start: an error, no snapshot.
      const refused = await rejection(
        client.createSnapshot(repo.name, "not-partial", { ...body, partial: false }, {
          waitForCompletion: true,
        }),
      );
      assert.equal(refused.type, "snapshot_exception");
      assert.equal(refused.status, 500);
      assert.match(
        refused.reason,
        /unassigned primary shards and cannot be included in a snapshot unless \[partial\]/,
      );

      // An index pattern that matches nothing gives an empty SUCCESS.
      const empty = await client.createSnapshot(repo.name, "empty", {
        indices: `${healthy}-nothing-*`,
        include_global_state: false,
      }, { waitForCompletion: true });
      assert.equal(empty.state, "SUCCESS");
      assert.equal(empty.shards.total, 0);
      assert.equal(classifySnapshot(empty).ok, false);
      assert.equal(classifySnapshot(empty, { allowEmpty: true }).ok, true);
    } finally {
      await client.close();
      await scratch.cleanup();
    }
  },
);

serviceTest("EsClient meets the server's concurrency errors", ES, async ({ es }) => {
  const scratch = new Scratch(es);
  const client = new EsClient({ urls: [es.url] });
  try {
    const index = scratch.index();
    await makeIndex(es, index, { docs: 2000, docBytes: 1000 });
    const repo = scratch.repo();
    await client.ensureRepository(repo.name, {
      type: "fs",
      settings: {
        location: repo.location,
        max_snapshot_bytes_per_sec: "1mb",
        max_restore_bytes_per_sec: "256kb",
      },
    });
    const body = { indices: index, include_global_state: false };

    // Since 7.7 two snapshots may run at once: both succeed.
    const [one, two] = await Promise.all([
      client.createSnapshot(repo.name, "one", body, { waitForCompletion: true }),
      client.createSnapshot(repo.name, "two", body, { waitForCompletion: true }),
    ]);
    assert.equal(one.state, "SUCCESS");
    assert.equal(two.state, "SUCCESS");

    // The same name twice at once: a name clash, not worth retrying.
    const [first, second] = await Promise.allSettled([
      client.createSnapshot(repo.name, "same", body, { waitForCompletion: false }),
      client.createSnapshot(repo.name, "same", body, { waitForCompletion: false }),
    ]);
    const clash = [first, second].find((r) => r.status === "rejected");
    assert.ok(
      clash?.status === "rejected" && clash.reason instanceof EsError,
      JSON.stringify([first, second]),
    );
    assert.equal(clash.reason.type, "snapshot_name_already_in_use_exception");
    assert.equal(clash.reason.retryable, false);
    await client.waitForSnapshot(repo.name, "same");

    // Deleting a snapshot while it is being restored: the retryable 503.
    const restored = `${index}-restored`;
    const restore = await client.restoreSnapshot(repo.name, "one", {
      indices: index,
      rename_pattern: "(.+)",
      rename_replacement: "$1-restored",
    }, { waitForCompletion: false });
    assert.equal(restore.completed, false);
    const busy = await rejection(
      client.deleteSnapshots(repo.name, ["one"], { retries: 1, backoffMs: 100 }),
    );
    assert.equal(busy.type, "concurrent_snapshot_execution_exception");
    assert.equal(busy.status, 503);
    assert.equal(busy.retryable, true);
    // Deleting the index being restored ends the restore; then the delete goes through.
    await fetchJson(`${es.url}/${restored}`, { method: "DELETE" });
    assert.deepEqual(await client.deleteSnapshots(repo.name, ["one"], { backoffMs: 500 }), {
      deleted: ["one"],
      missing: [],
    });
  } finally {
    await client.close();
    await scratch.cleanup();
  }
});

serviceTest(
  "EsClient lists snapshots oldest first and deletes them in a batch",
  ES,
  async ({ es }) => {
    const scratch = new Scratch(es);
    const { client, sent } = recordingClient(es);
    try {
      const index = scratch.index();
      await makeIndex(es, index, { docs: 5 });
      const repo = scratch.repo();
      await client.ensureRepository(repo.name, {
        type: "fs",
        settings: { location: repo.location },
      });
      const names = ["c-first", "a-second", "b-third"];
      for (const name of names) {
        await client.createSnapshot(repo.name, name, {
          indices: index,
          include_global_state: false,
        }, {
          waitForCompletion: true,
        });
        // Start times come from a clock the server refreshes every 200 ms; ties sort by name.
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      const listed = await client.listSnapshots(repo.name);
      assert.deepEqual(listed.map((s) => s.snapshot), names);
      assert.ok(
        listed.every((s, i) =>
          i === 0 || s.start_time_in_millis >= (listed[i - 1]?.start_time_in_millis ?? 0)
        ),
      );
      assert.ok(
        listed.every((s) => s.uuid !== "" && s.end_time_in_millis > 0 && s.shards.total === 1),
      );
      const brief = await client.listSnapshots(repo.name, { verbose: false });
      assert.deepEqual(brief.map((s) => s.snapshot).sort(), [...names].sort());

      const before = sent.length;
      const result = await client.deleteSnapshots(repo.name, [...names, "never-made"]);
      assert.deepEqual(result.deleted.sort(), [...names].sort());
      assert.deepEqual(result.missing, ["never-made"]);
      // One DELETE refused for the missing name, one look-up, one DELETE of the rest.
      assert.deepEqual(sent.slice(before).map((s) => `${s.method} ${s.status}`), [
        "DELETE 404",
        "GET 200",
        "DELETE 200",
      ]);
      assert.deepEqual(await client.listSnapshots(repo.name), []);
    } finally {
      await client.close();
      await scratch.cleanup();
    }
  },
);

serviceTest("EsClient restores under a new name with every document", ES, async ({ es }) => {
  const scratch = new Scratch(es);
  const client = new EsClient({ urls: [es.url] });
  try {
    const index = scratch.index();
    await makeIndex(es, index, { docs: 123, shards: 2 });
    const repo = scratch.repo();
    await client.ensureRepository(repo.name, { type: "fs", settings: { location: repo.location } });
    await client.createSnapshot(repo.name, "source", {
      indices: index,
      include_global_state: false,
    }, {
      waitForCompletion: true,
    });

    const overOpen = await rejection(
      client.restoreSnapshot(repo.name, "source", { indices: index }, { waitForCompletion: true }),
    );
    assert.equal(overOpen.type, "snapshot_restore_exception");
    assert.match(overOpen.message, /an open index with same name already exists/);

    const restoredName = `${index}-copy`;
    assert.deepEqual(await client.openIndices([index, restoredName, `${index}-nope`]), [index]);
    assert.equal(await client.indexExists(restoredName), false);
    const restored = await client.restoreSnapshot(repo.name, "source", {
      indices: index,
      rename_pattern: "(.+)",
      rename_replacement: "$1-copy",
      index_settings: { "index.number_of_replicas": 0 },
    }, { waitForCompletion: true });
    assert.deepEqual(restored, {
      snapshot: "source",
      completed: true,
      indices: [restoredName],
      shards: { total: 2, failed: 0, successful: 2 },
    });
    assert.equal(await client.indexExists(restoredName), true);
    assert.equal(await docCount(es, restoredName), 123);
    assert.deepEqual(await client.openIndices([`${index}*`]), [index, restoredName].sort());
  } finally {
    await client.close();
    await scratch.cleanup();
  }
});
