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

/** Whether a repository's `_status` answer lists `name` at all (running, or finalizing). */
export function listedInStatus(body: unknown, name: string): boolean {
  const running = isRecord(body) && Array.isArray(body.snapshots) ? body.snapshots : [];
  return running.some((s) => isRecord(s) && s.snapshot === name);
}

function sizeOf(value: unknown): number | undefined {
  return isRecord(value) && typeof value.size_in_bytes === "number"
    ? value.size_in_bytes
    : undefined;
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

/** Progress of one index, or of a whole restore. */
export interface RecoveryCounts {
  shardsDone: number;
  shardsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

/** Progress of a restore: totals and each index, from the shards' recoveries. */
export interface RestoreProgress extends RecoveryCounts {
  indices: Record<string, RecoveryCounts>;
}

/**
 * Sums the shard recoveries of an answer of `GET /{indices}/_recovery` that restore `snapshot`
 * of `repository`. Shards still waiting to be allocated are not listed, so the shard total
 * can grow while the restore runs.
 */
export function progressFromRecovery(
  body: unknown,
  repository: string,
  snapshot: string,
): RestoreProgress {
  const progress: RestoreProgress = {
    shardsDone: 0,
    shardsTotal: 0,
    bytesDone: 0,
    bytesTotal: 0,
    indices: {},
  };
  for (const [index, entry] of Object.entries(isRecord(body) ? body : {})) {
    const shards = isRecord(entry) && Array.isArray(entry.shards) ? entry.shards : [];
    for (const shard of shards) {
      if (!isRecord(shard) || !isRecord(shard.source)) continue;
      if (shard.source.snapshot !== snapshot || shard.source.repository !== repository) continue;
      const size = isRecord(shard.index) && isRecord(shard.index.size) ? shard.index.size : {};
      const counts = progress.indices[index] ??= {
        shardsDone: 0,
        shardsTotal: 0,
        bytesDone: 0,
        bytesTotal: 0,
      };
      const done = shard.stage === "DONE" ? 1 : 0;
      const total = count(size.total_in_bytes);
      // `recovered` leaves out what was reused from local files; a finished shard counts whole.
      const recovered = done ? total : Math.min(total, count(size.recovered_in_bytes));
      for (const target of [counts, progress]) {
        target.shardsDone += done;
        target.shardsTotal += 1;
        target.bytesDone += recovered;
        target.bytesTotal += total;
      }
    }
  }
  return progress;
}

/** A shard that is not allocated, and why, from `GET /_cat/shards?format=json`. */
export interface UnassignedShard {
  index: string;
  shard: number;
  primary: boolean;
  /** `ALLOCATION_FAILED`, `NEW_INDEX_RESTORED`…: the server's word. */
  reason: string;
  /** The deepest cause the server gives, one line, without the stack trace. */
  detail: string;
}

/** The unassigned shards of a `_cat/shards` answer (`h=index,shard,prirep,state,...`). */
export function unassignedShards(body: unknown): UnassignedShard[] {
  const rows = Array.isArray(body) ? body : [];
  return rows.filter((row) => isRecord(row) && row.state === "UNASSIGNED").map((row) => ({
    index: String(row.index),
    shard: Number(row.shard),
    primary: row.prirep === "p",
    reason: typeof row["unassigned.reason"] === "string" ? row["unassigned.reason"] : "",
    detail: rootCause(row["unassigned.details"]),
  }));
}

/** The last `Caused by:` of a Java stack trace (or its first line), capped. */
function rootCause(details: unknown): string {
  if (typeof details !== "string" || details === "") return "";
  const lines = details.split("\n").filter((line) => !/^\s*(at |\.\.\.)/.test(line));
  const causes = lines.filter((line) => line.startsWith("Caused by: "));
  const line = (causes[causes.length - 1]?.slice("Caused by: ".length) ?? lines[0] ?? "").trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
