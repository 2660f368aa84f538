// etcd members dying under snapcron, on a private 3-member cluster (own ports, own temp dir; the
// shared etcd is never touched): the leader killed -9 before a run and in the middle of a
// snapshot stream, then every member down.
import assert from "node:assert/strict";
import { EtcdClient, EtcdError, type SnapshotStream } from "../src/etcd/mod.ts";
import { type CliResult, collect, spawnSnapcron, tempConfig } from "./_cli.ts";
import {
  b64,
  clusterLeader,
  type ClusterMember,
  post,
  putKeys,
  run,
  sha256,
  startEtcdCluster,
} from "./_etcd.ts";
import { serviceTest } from "./_helpers.ts";

/**
 * Runs snapcron like `snapcron()` of `_cli.ts`, but kills it after `ms`: a run that hangs must
 * fail this test with its output, not hold up the suite (and leave a process behind).
 */
async function snapcronWithin(args: string[], ms = 60_000): Promise<CliResult> {
  const child = spawnSnapcron(args);
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, ms);
  const status = await child.status;
  clearTimeout(timer);
  await Promise.all([stdout.done, stderr.done]);
  if (killed) {
    throw new Error(
      `snapcron ${
        args.join(" ")
      } did not finish within ${ms} ms (killed); its log:\n${stderr.text()}`,
    );
  }
  return { code: status.code, stdout: stdout.text(), stderr: stderr.text() };
}

/** The members with `first` in front: the order a job's `endpoints` lists them in. */
function leaderFirst(members: ClusterMember[], first: ClusterMember): ClusterMember[] {
  return [first, ...members.filter((member) => member !== first)];
}

/** Puts `megabytes` values of 128 KiB (etcd takes requests up to 1.5 MiB). */
async function putMegabytes(url: string, megabytes: number): Promise<void> {
  const value = b64("x".repeat(128 * 1024));
  for (let start = 0; start < megabytes * 8; start += 8) {
    const success = [];
    for (let index = start; index < start + 8; index++) {
      success.push({ requestPut: { key: b64(`/big/${index}`), value } });
    }
    // One MiB per transaction.
    await post(`${url}/v3/kv/txn`, { success });
  }
}

serviceTest(
  "etcd job on a 3-member cluster: leader killed -9 before a run fails over, the next run passes a hung leader to the last member, all down names every endpoint",
  { services: ["etcd"] },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "snapcron-etcd-cluster-" });
    const cluster = await startEtcdCluster(dir);
    const config = await tempConfig("");
    try {
      const leader = await clusterLeader(cluster);
      await putKeys(leader.url, "/faults", 2000);
      // The job lists all three members, the one to fail first, so the run has to fail over.
      const configure = async (members: ClusterMember[]) => {
        const endpoints = JSON.stringify(members.map((member) => member.url));
        await Deno.writeTextFile(
          config,
          `
storage:
  local: { type: local, path: "${dir}/backups" }
jobs:
  etcd:
    schedule: "@hourly"
    etcd: { endpoints: ${endpoints}, request_timeout: 2s }
    upload: { storage: local, key: "etcd/{time}-{run}.db.gz" }
`,
        );
      };
      await configure(leaderFirst(cluster.members, leader));
      const list = async () =>
        JSON.parse(
          (await snapcronWithin(["list", "etcd", "--config", config, "--json"])).stdout,
        ) as {
          key: string;
          content_size: number;
          source: { endpoint: string };
        }[];

      await leader.kill();
      const first = await snapcronWithin(["once", "etcd", "--config", config]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /etcd endpoint failed; trying the next/);
      let backups = await list();
      assert.equal(backups.length, 1);
      const served = cluster.members.find((member) => member.url === backups[0]!.source.endpoint);
      assert.ok(served !== undefined && served !== leader, "served by a member still alive");
      // A verified snapshot: restore checks our sha256, etcdctl checks etcd's own trailer.
      const file = `${dir}/first.db`;
      const restore = await snapcronWithin([
        "restore",
        "etcd",
        "latest",
        "--to",
        file,
        "--config",
        config,
      ]);
      assert.equal(restore.code, 0, restore.stderr);
      const bytes = await Deno.readFile(file);
      assert.equal(bytes.length, backups[0]!.content_size);
      assert.equal(bytes.length % 512, 32);
      assert.equal(sha256(bytes.subarray(0, -32)), bytes.subarray(-32).toHex());
      await run("etcdctl", ["snapshot", "restore", file, `--data-dir=${dir}/restored`]);

      // Next run: the new leader hangs (SIGSTOP: it accepts connections and answers nothing);
      // after the request timeout the last member, without quorum, serves.
      const second = await clusterLeader(cluster, 10_000, [leader]);
      const last = cluster.members.find((member) => member !== leader && member !== second)!;
      second.freeze();
      await configure([leader, second, last]);
      const started = Date.now();
      const next = await snapcronWithin(["once", "etcd", "--config", config]);
      assert.equal(next.code, 0, next.stderr);
      assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
      assert.ok(
        next.stderr.includes(`endpoint=${second.url} error="no answer within 2000 ms"`),
        next.stderr,
      );
      backups = await list();
      assert.equal(backups.length, 2);
      assert.ok(
        backups.some((backup) => backup.source.endpoint === last.url),
        "served by the last",
      );

      await second.kill();
      await last.kill();
      const down = await snapcronWithin(["once", "etcd", "--config", config]);
      assert.equal(down.code, 1, down.stderr);
      assert.match(down.stderr, /from any etcd endpoint: /);
      for (const { url } of cluster.members) {
        assert.ok(down.stderr.includes(`"${url}": tcp connect error`), `names ${url}`);
      }
      assert.doesNotMatch(down.stderr, /^\s+at /m, "no stack trace");
      assert.equal((await list()).length, 2, "the failed run stored nothing");
    } finally {
      await cluster.stop();
      await Deno.remove(config);
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** Reads `stream` to its end: the bytes, or the error it failed with. */
async function drain(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  first: Uint8Array,
): Promise<{ bytes: number } | { error: unknown }> {
  let bytes = first.length;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes };
      bytes += value.length;
    }
  } catch (error) {
    return { error };
  }
}

serviceTest(
  "EtcdClient on a 3-member cluster: the serving leader killed -9 mid-snapshot fails that snapshot clearly; the next comes verified from another member",
  { services: ["etcd"] },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "snapcron-etcd-cluster-" });
    const cluster = await startEtcdCluster(dir);
    const killed: ClusterMember[] = [];
    try {
      // 24 MiB: more than the socket buffers and HTTP/2 windows hold, so the kill lands inside
      // the stream rather than after etcd already sent everything.
      await putMegabytes((await clusterLeader(cluster)).url, 24);
      for (const transport of ["grpc", "gateway"] as const) {
        const leader = await clusterLeader(cluster, 10_000, killed);
        const order = leaderFirst(cluster.members.filter((m) => !killed.includes(m)), leader);
        const client = new EtcdClient({
          endpoints: order.map((member) => member.url),
          timeoutMs: 5000,
        });
        try {
          const stream = await client.snapshot({ transport });
          assert.equal(stream.endpoint, leader.url);
          const reader = stream.body.getReader();
          const head = await reader.read();
          assert.ok(!head.done && head.value.length > 0);
          await leader.kill();
          killed.push(leader);
          const outcome = await drain(reader, head.value);
          assert.ok("error" in outcome, `${transport}: a 24 MiB stream cannot end after the kill`);
          const error = outcome.error;
          assert.ok(error instanceof EtcdError, String(error));
          assert.equal(error.endpoint, leader.url);
          assert.match(
            error.message,
            new RegExp(`^Snapshot from "${leader.url}" (failed|stalled): `),
          );
          await assert.rejects(stream.done);

          // The next snapshot, on the same client, comes from a member still alive, verified.
          const next: SnapshotStream = await client.snapshot({ transport });
          assert.notEqual(next.endpoint, leader.url);
          const bytes = new Uint8Array(await new Response(next.body).arrayBuffer());
          const done = await next.done;
          assert.equal(done.size, bytes.length);
          assert.ok(done.size > 24 * 1024 * 1024);
          assert.equal(done.size % 512, 32);
          assert.equal(done.sha256, sha256(bytes.subarray(0, -32)));
        } finally {
          client.close();
        }
      }
    } finally {
      await cluster.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
