/** Progress of a running snapshot, read from the cheap running-snapshots status listing. */
import { isRecord } from "./_errors.ts";

/** Progress of a running snapshot. */
export interface SnapshotProgress {
  /** The server's word: `INIT`, `STARTED`, `ABORTED` (from `_status`) or `IN_PROGRESS`. */
  state: string;
  shardsDone: number;
  shardsTotal: number;
  bytesDone?: number;
  bytesTotal?: number;
}

/**
 * Finds `name` in an answer of `GET /_snapshot/{repo}/_status` (which lists running snapshots
 * only); undefined when it is not running any more.
 */
export function progressFromStatus(body: unknown, name: string): SnapshotProgress | undefined {
  const running = isRecord(body) && Array.isArray(body.snapshots) ? body.snapshots : [];
  const entry = running.find((s) => isRecord(s) && s.snapshot === name);
  if (!isRecord(entry) || entry.state === "SUCCESS" || entry.state === "FAILED") return undefined;
  const shards = isRecord(entry.shards_stats) ? entry.shards_stats : {};
  const stats = isRecord(entry.stats) ? entry.stats : {};
  const progress: SnapshotProgress = {
    state: typeof entry.state === "string" ? entry.state : "IN_PROGRESS",
    shardsDone: count(shards.done),
    shardsTotal: count(shards.total),
  };
  // `incremental` is what this snapshot has to write (`total` also counts files reused from
  // earlier snapshots); `processed` is left out once it equals `incremental`.
  const total = sizeOf(stats.incremental) ?? sizeOf(stats.total);
  const done = sizeOf(stats.processed) ?? total;
  if (done !== undefined) progress.bytesDone = done;
  if (total !== undefined) progress.bytesTotal = total;
  return progress;
}

function sizeOf(value: unknown): number | undefined {
  return isRecord(value) && typeof value.size_in_bytes === "number"
    ? value.size_in_bytes
    : undefined;
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}
