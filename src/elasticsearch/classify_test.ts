import assert from "node:assert/strict";
import { classifySnapshot } from "./_classify.ts";
import { SNAPSHOTS } from "./_testdata.ts";
import { type SnapshotInfo, toSnapshotInfo } from "./_types.ts";

function snapshotOf(body: string): SnapshotInfo {
  const info = toSnapshotInfo((JSON.parse(body) as { snapshot: unknown }).snapshot);
  assert.ok(info);
  return info;
}

Deno.test("classifySnapshot() accepts a SUCCESS that saved indices", () => {
  const verdict = classifySnapshot(snapshotOf(SNAPSHOTS.success.body));
  assert.deepEqual(verdict, { ok: true, reason: 'Snapshot "c3" succeeded: 1 indices, 2/2 shards' });
});

Deno.test("classifySnapshot() refuses a FAILED snapshot with its reason and per-shard reasons", () => {
  const verdict = classifySnapshot(snapshotOf(SNAPSHOTS.failedAborted.body), {
    allowPartial: true,
    allowEmpty: true,
  });
  assert.equal(verdict.ok, false);
  assert.equal(
    verdict.reason,
    'Snapshot "slow1" failed: Snapshot was aborted by deletion; index "scratch-big" shard 0: aborted; index "scratch-big" shard 1: aborted',
  );
});

Deno.test("classifySnapshot() refuses PARTIAL unless allowed", () => {
  const info = snapshotOf(SNAPSHOTS.partialUnassigned.body);
  const refused = classifySnapshot(info);
  assert.equal(refused.ok, false);
  assert.equal(
    refused.reason,
    'Snapshot "p1" is partial: 2/3 shards, 1 failed: index "scratch-unassigned" shard 0: primary shard is not allocated',
  );
  const allowed = classifySnapshot(info, { allowPartial: true });
  assert.equal(allowed.ok, true);
  assert.match(allowed.reason, /is partial \(allowed\)/);
});

Deno.test("classifySnapshot() names the denied path of a shard that could not be written", () => {
  const verdict = classifySnapshot(snapshotOf(SNAPSHOTS.partialUnwritable.body));
  assert.equal(verdict.ok, false);
  assert.match(
    verdict.reason,
    /0\/2 shards, 2 failed: index "scratch-big" shard 0: .*AccessDeniedException/,
  );
});

Deno.test("classifySnapshot() refuses a SUCCESS that matched no index unless allowed", () => {
  const empty: SnapshotInfo = {
    ...snapshotOf(SNAPSHOTS.success.body),
    indices: [],
    shards: { total: 0, failed: 0, successful: 0 },
  };
  const refused = classifySnapshot(empty);
  assert.equal(refused.ok, false);
  assert.match(refused.reason, /matched no index, so nothing was saved/);
  assert.equal(classifySnapshot(empty, { allowEmpty: true }).ok, true);
});

Deno.test("classifySnapshot() refuses snapshots still running and incompatible ones", () => {
  const base = snapshotOf(SNAPSHOTS.success.body);
  assert.equal(classifySnapshot({ ...base, state: "IN_PROGRESS" }).ok, false);
  assert.equal(classifySnapshot({ ...base, state: "INCOMPATIBLE" }).ok, false);
});

Deno.test("classifySnapshot() lists at most five shard failures", () => {
  const base = snapshotOf(SNAPSHOTS.failedAborted.body);
  const failures = Array.from({ length: 8 }, (_, shard) => ({
    index: "i",
    shard_id: shard,
    reason: "aborted",
  }));
  const verdict = classifySnapshot({ ...base, failures });
  assert.match(verdict.reason, /shard 4: aborted; and 3 more$/);
});
