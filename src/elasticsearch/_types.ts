/** Shapes of snapshot answers, read defensively: a missing field gets a neutral value. */
import { isRecord } from "./_errors.ts";

/** Snapshot states; `INCOMPATIBLE` marks snapshots from a newer or much older server. */
export type SnapshotState = "IN_PROGRESS" | "SUCCESS" | "PARTIAL" | "FAILED" | "INCOMPATIBLE";

/** One shard that could not be snapshotted. */
export interface SnapshotFailure {
  index: string;
  shard_id: number;
  reason: string;
  status?: string;
  node_id?: string;
}

/** Shard counts of a snapshot. */
export interface ShardCounts {
  total: number;
  failed: number;
  successful: number;
}

/**
 * A snapshot as the server describes it. Times are 0 while running and in non-verbose listings
 * (which carry only name, uuid, state and indices).
 */
export interface SnapshotInfo {
  snapshot: string;
  uuid: string;
  repository?: string;
  state: SnapshotState;
  /** Why a FAILED snapshot failed (e.g. `Snapshot was aborted by deletion`). */
  reason?: string;
  start_time_in_millis: number;
  end_time_in_millis: number;
  duration_in_millis: number;
  indices: string[];
  shards: ShardCounts;
  failures: SnapshotFailure[];
  metadata: Record<string, unknown>;
  include_global_state?: boolean;
  /** Server version that wrote the snapshot. */
  version?: string;
}

const STATES: readonly SnapshotState[] = [
  "IN_PROGRESS",
  "SUCCESS",
  "PARTIAL",
  "FAILED",
  "INCOMPATIBLE",
];

/** Reads one snapshot object; undefined when it lacks a name or a known state. */
export function toSnapshotInfo(value: unknown): SnapshotInfo | undefined {
  if (!isRecord(value) || typeof value.snapshot !== "string") return undefined;
  const state = STATES.find((known) => known === value.state);
  if (state === undefined) return undefined;
  const shards = isRecord(value.shards) ? value.shards : {};
  const info: SnapshotInfo = {
    snapshot: value.snapshot,
    uuid: str(value.uuid),
    state,
    start_time_in_millis: num(value.start_time_in_millis),
    end_time_in_millis: num(value.end_time_in_millis),
    duration_in_millis: num(value.duration_in_millis),
    indices: Array.isArray(value.indices) ? value.indices.filter(isString) : [],
    shards: {
      total: num(shards.total),
      failed: num(shards.failed),
      successful: num(shards.successful),
    },
    failures: Array.isArray(value.failures) ? value.failures.map(toFailure) : [],
    metadata: isRecord(value.metadata) ? value.metadata : {},
  };
  if (typeof value.repository === "string") info.repository = value.repository;
  if (typeof value.reason === "string") info.reason = value.reason;
  if (typeof value.include_global_state === "boolean") {
    info.include_global_state = value.include_global_state;
  }
  if (typeof value.version === "string") info.version = value.version;
  return info;
}

function toFailure(value: unknown): SnapshotFailure {
  const failure = isRecord(value) ? value : {};
  const out: SnapshotFailure = {
    index: str(failure.index),
    shard_id: num(failure.shard_id, -1),
    reason: str(failure.reason),
  };
  if (typeof failure.status === "string") out.status = failure.status;
  if (typeof failure.node_id === "string") out.node_id = failure.node_id;
  return out;
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function num(value: unknown, fallback = 0): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}
