/**
 * Snapshots of Elasticsearch and OpenSearch from outside the cluster: a REST client over plain
 * fetch (failover, timeouts, bounded answers), snapshot-name rules and the verdict on a
 * finished snapshot.
 */
export {
  type CallOptions,
  type CreateSnapshotBody,
  type DeleteSnapshotsOptions,
  type DeleteSnapshotsResult,
  type EsAuth,
  EsClient,
  type EsClientOptions,
  type EsInfo,
  type ListSnapshotsOptions,
  type RepositorySpec,
  type RestoreOptions,
  type RestoreResult,
  type RestoreSnapshotBody,
  type VerifiedNode,
  type WaitForSnapshotOptions,
  type WaitOptions,
} from "./_client.ts";
export type {
  RecoveryCounts,
  RestoreProgress,
  SnapshotProgress,
  UnassignedShard,
} from "./_progress.ts";
export { type Classification, type ClassifyOptions, classifySnapshot } from "./_classify.ts";
export { type EsClientErrorType, EsError, type EsErrorInit } from "./_errors.ts";
export {
  encodeSnapshotName,
  isDateMathName,
  renderNameTemplate,
  validateSnapshotName,
} from "./_names.ts";
export type { ShardCounts, SnapshotFailure, SnapshotInfo, SnapshotState } from "./_types.ts";
