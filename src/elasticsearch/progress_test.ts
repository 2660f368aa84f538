import assert from "node:assert/strict";
import { progressFromRecovery, unassignedShards } from "./_progress.ts";

/** Shaped like Elasticsearch 9.5's `GET /{index}/_recovery` with the client's filter_path. */
function shard(snapshot: string, stage: string, total: number, recovered: number) {
  return {
    stage,
    source: { repository: "repo", snapshot },
    index: { size: { total_in_bytes: total, recovered_in_bytes: recovered } },
  };
}

Deno.test("progressFromRecovery() sums this restore's shards, per index and in total", () => {
  const progress = progressFromRecovery(
    {
      "restored-a": { shards: [shard("s1", "INDEX", 3000, 1000), shard("s1", "DONE", 2000, 0)] },
      "restored-b": { shards: [shard("s1", "INDEX", 1000, 250)] },
      // Another restore, and a shard recovered from a peer: not ours.
      "other": { shards: [shard("s0", "DONE", 5000, 5000), { stage: "DONE", source: {} }] },
    },
    "repo",
    "s1",
  );
  assert.deepEqual(progress, {
    // A finished shard counts whole: `recovered` leaves out bytes reused from local files.
    shardsDone: 1,
    shardsTotal: 3,
    bytesDone: 3250,
    bytesTotal: 6000,
    indices: {
      "restored-a": { shardsDone: 1, shardsTotal: 2, bytesDone: 3000, bytesTotal: 5000 },
      "restored-b": { shardsDone: 0, shardsTotal: 1, bytesDone: 250, bytesTotal: 1000 },
    },
  });
  assert.equal(progressFromRecovery({}, "repo", "s1").shardsTotal, 0);
  assert.equal(progressFromRecovery(undefined, "repo", "s1").bytesTotal, 0);
});

Deno.test("unassignedShards() keeps the unassigned ones with the deepest cause, no stack trace", () => {
  const details = "failed shard on node [n1]: failed recovery, failure RecoveryFailedException: " +
    "[c][0]: Recovery failed\n\tat org.elasticsearch.index.shard.IndexShard.lambda(IndexShard.java:1)\n" +
    "Caused by: IndexShardRestoreFailedException: failed to restore snapshot [s1/uuid]\n" +
    "\tat org.elasticsearch.Foo.bar(Foo.java:2)\n\t... 12 more\n" +
    "Caused by: org.apache.lucene.index.CorruptIndexException: verification failed (hardware problem?)\n" +
    "\tat org.apache.lucene.Baz.qux(Baz.java:3)";
  assert.deepEqual(
    unassignedShards([
      {
        index: "c",
        shard: "0",
        prirep: "p",
        state: "UNASSIGNED",
        "unassigned.reason": "ALLOCATION_FAILED",
        "unassigned.details": details,
      },
      { index: "c", shard: "1", prirep: "p", state: "STARTED", "unassigned.reason": null },
      {
        index: "d",
        shard: "2",
        prirep: "r",
        state: "UNASSIGNED",
        "unassigned.reason": "NEW_INDEX_RESTORED",
      },
    ]),
    [
      {
        index: "c",
        shard: 0,
        primary: true,
        reason: "ALLOCATION_FAILED",
        detail:
          "org.apache.lucene.index.CorruptIndexException: verification failed (hardware problem?)",
      },
      { index: "d", shard: 2, primary: false, reason: "NEW_INDEX_RESTORED", detail: "" },
    ],
  );
  assert.deepEqual(unassignedShards({ error: "not a list" }), []);
});
