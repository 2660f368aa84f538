/** Whether a finished snapshot counts as a successful backup. */
import type { SnapshotFailure, SnapshotInfo } from "./_types.ts";

/** Options of {@linkcode classifySnapshot}. */
export interface ClassifyOptions {
  /** Accept PARTIAL snapshots (some shards missing); default false. */
  allowPartial?: boolean;
  /** Accept a SUCCESS that matched no index (nothing was saved); default false. */
  allowEmpty?: boolean;
}

/** Verdict of {@linkcode classifySnapshot}: `reason` is one line fit for a log or a webhook. */
export interface Classification {
  ok: boolean;
  reason: string;
}

/** Shard failures named in a reason; the rest are counted. */
const MAX_LISTED_FAILURES = 5;

/** Judges a snapshot: SUCCESS is ok, FAILED never, PARTIAL and empty ones only when allowed. */
export function classifySnapshot(
  info: SnapshotInfo,
  options: ClassifyOptions = {},
): Classification {
  const name = `Snapshot "${info.snapshot}"`;
  const shards = `${info.shards.successful}/${info.shards.total} shards`;
  switch (info.state) {
    case "SUCCESS": {
      if (info.indices.length > 0 && info.shards.total > 0) {
        return { ok: true, reason: `${name} succeeded: ${info.indices.length} indices, ${shards}` };
      }
      if (options.allowEmpty) {
        return { ok: true, reason: `${name} succeeded but matched no index (allowed)` };
      }
      return {
        ok: false,
        reason: `${name} matched no index, so nothing was saved: ` +
          'check "indices" (or allow empty snapshots)',
      };
    }
    case "PARTIAL": {
      const detail = `${shards}, ${info.shards.failed} failed: ${describeFailures(info.failures)}`;
      return options.allowPartial
        ? { ok: true, reason: `${name} is partial (allowed): ${detail}` }
        : { ok: false, reason: `${name} is partial: ${detail}` };
    }
    case "FAILED": {
      const why = info.reason ? `${info.reason}; ` : "";
      return { ok: false, reason: `${name} failed: ${why}${describeFailures(info.failures)}` };
    }
    case "IN_PROGRESS":
      return { ok: false, reason: `${name} is still in progress (${shards} done)` };
    case "INCOMPATIBLE":
      return { ok: false, reason: `${name} is incompatible with this server version` };
  }
}

function describeFailures(failures: readonly SnapshotFailure[]): string {
  if (failures.length === 0) return "no shard failures reported";
  const listed = failures.slice(0, MAX_LISTED_FAILURES).map((failure) =>
    `index "${failure.index}" shard ${failure.shard_id}: ${failure.reason}`
  );
  const more = failures.length - listed.length;
  return listed.join("; ") + (more > 0 ? `; and ${more} more` : "");
}
