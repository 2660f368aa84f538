import assert from "node:assert/strict";
import { errorFromAnswer, EsError, parseErrorBody } from "./_errors.ts";
import { listedInStatus, progressFromStatus } from "./_progress.ts";
import {
  type CannedAnswer,
  ERRORS,
  RUNNING_STATUS,
  RUNNING_STATUS_FULL,
  SNAPSHOTS,
} from "./_testdata.ts";
import { toSnapshotInfo } from "./_types.ts";

const URL = "http://127.0.0.1:19200/_snapshot/r1/x";

function errorOf(canned: CannedAnswer): EsError {
  return errorFromAnswer({
    status: canned.status,
    body: JSON.parse(canned.body),
    method: "PUT",
    url: URL,
  });
}

Deno.test("parseErrorBody() reads type and reason of real error answers", () => {
  const expected: Record<keyof typeof ERRORS, [string, number]> = {
    root405: ["http_error", 405],
    repositoryMissing: ["repository_missing_exception", 404],
    invalidName: ["invalid_snapshot_name_exception", 400],
    nameInUse: ["snapshot_name_already_in_use_exception", 400],
    concurrentLimit: ["concurrent_snapshot_execution_exception", 503],
    concurrentRestore: ["concurrent_snapshot_execution_exception", 503],
    inProgress: ["snapshot_in_progress_exception", 400],
    snapshotMissing: ["snapshot_missing_exception", 404],
    blobContainer: ["snapshot_exception", 500],
    unassignedPrimary: ["snapshot_exception", 500],
    restoreOverOpen: ["snapshot_restore_exception", 500],
    verification: ["repository_verification_exception", 500],
    outsidePathRepo: ["repository_exception", 500],
  };
  for (const [key, [type, status]] of Object.entries(expected)) {
    const canned = ERRORS[key as keyof typeof ERRORS];
    assert.equal(canned.status, status, key);
    assert.equal(parseErrorBody(JSON.parse(canned.body))?.type, type, key);
    const error = errorOf(canned);
    assert.equal(error.type, type, key);
    assert.equal(error.status, status, key);
  }
});

Deno.test("EsError marks only the concurrency errors retryable", () => {
  assert.equal(errorOf(ERRORS.concurrentLimit).retryable, true);
  assert.equal(errorOf(ERRORS.concurrentRestore).retryable, true);
  assert.equal(errorOf(ERRORS.inProgress).retryable, true);
  for (
    const canned of [
      ERRORS.invalidName,
      ERRORS.nameInUse,
      ERRORS.repositoryMissing,
      ERRORS.snapshotMissing,
      ERRORS.restoreOverOpen,
      ERRORS.blobContainer,
    ]
  ) {
    assert.equal(errorOf(canned).retryable, false, canned.request);
  }
});

Deno.test("EsError message names the request, the status, the type and the nested cause", () => {
  const error = errorOf(ERRORS.blobContainer);
  assert.equal(
    error.message,
    `Elasticsearch answered HTTP 500 to PUT "${URL}": snapshot_exception: [r2:f1/Ryn65pYiTACfLOtVqfs7-A] failed to update snapshot in repository; caused by: exception: failed to create blob container; caused by: access_denied_exception: /tmp/snapcron-services/es/repo/r2/indices/k_esMHCxTHabA0rynxx_Dg`,
  );
  assert.equal(error.name, "EsError");
  assert.equal(error.reason.startsWith("[r2:f1/"), true);
});

Deno.test("EsError reads the plain-string error of a 405", () => {
  const error = errorOf(ERRORS.root405);
  assert.equal(
    error.reason,
    "Incorrect HTTP method for uri [/] and method [GET], allowed: [DELETE]",
  );
});

Deno.test("errorFromAnswer() copes with a body that is no error document", () => {
  const error = errorFromAnswer({
    status: 502,
    body: "<html>Bad gateway</html>",
    method: "GET",
    url: URL,
  });
  assert.equal(error.type, "http_error");
  assert.match(error.message, /HTTP 502 .*unexpected answer: <html>Bad gateway<\/html>/);
  assert.equal(parseErrorBody(undefined), undefined);
  assert.equal(parseErrorBody({ error: { reason: "no type" } }), undefined);
});

Deno.test("toSnapshotInfo() reads real snapshot answers", () => {
  const failed = toSnapshotInfo(JSON.parse(SNAPSHOTS.failedAborted.body).snapshot);
  assert.ok(failed);
  assert.equal(failed.state, "FAILED");
  assert.equal(failed.reason, "Snapshot was aborted by deletion");
  assert.deepEqual(failed.shards, { total: 2, failed: 2, successful: 0 });
  assert.deepEqual(failed.failures[0], {
    index: "scratch-big",
    shard_id: 0,
    reason: "aborted",
    status: "INTERNAL_SERVER_ERROR",
    node_id: "YyoQcv7SRFulho0OJWKfLQ",
  });
  assert.deepEqual(failed.metadata, {});
  const success = toSnapshotInfo(JSON.parse(SNAPSHOTS.success.body).snapshot);
  assert.equal(success?.duration_in_millis, 10012);
  assert.equal(toSnapshotInfo({ snapshot: "x", state: "WEIRD" }), undefined);
  assert.equal(toSnapshotInfo("nonsense"), undefined);
});

Deno.test("progressFromStatus() reads shard and byte counts of a running snapshot", () => {
  assert.deepEqual(progressFromStatus(JSON.parse(RUNNING_STATUS_FULL.body), "s1"), {
    state: "STARTED",
    shardsDone: 0,
    shardsTotal: 2,
    bytesDone: 8462748,
    bytesTotal: 41973060,
  });
  // Without `incremental` the total stands in.
  assert.deepEqual(progressFromStatus(JSON.parse(RUNNING_STATUS.body), "slow1"), {
    state: "STARTED",
    shardsDone: 0,
    shardsTotal: 2,
    bytesDone: 6978727,
    bytesTotal: 41978934,
  });
  assert.equal(progressFromStatus(JSON.parse(RUNNING_STATUS.body), "other"), undefined);
  assert.equal(progressFromStatus({ snapshots: [] }, "slow1"), undefined);
  assert.equal(listedInStatus(JSON.parse(RUNNING_STATUS.body), "slow1"), true);
  assert.equal(listedInStatus(JSON.parse(RUNNING_STATUS.body), "other"), false);
  assert.equal(listedInStatus({ snapshots: [] }, "slow1"), false);
});
