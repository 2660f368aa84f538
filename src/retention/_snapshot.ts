// Elasticsearch SLM retention, with the newest success always kept and failures cleaned up only
// behind a success.

import {
  checkCount,
  checkDuration,
  checkItems,
  checkKeys,
  checkNow,
  failedVerdict,
  formatAge,
  formatDuration,
  inProgress,
  isInProgress,
  nearestNewer,
  noPolicy,
  notThisJob,
  ownedBy,
  sortNewestFirst,
  toPlan,
  verdict,
} from "./_common.ts";
import type {
  BackupItem,
  Plan,
  SnapshotRetentionOptions,
  SnapshotRetentionPolicy,
  Verdict,
} from "./_types.ts";

const KEYS: Readonly<Record<keyof SnapshotRetentionPolicy, string>> = {
  expireAfterMs: "expire_after",
  minCount: "min_count",
  maxCount: "max_count",
};

// Unsuccessful states retention may clean up; anything else unknown is left alone.
const FAILED_STATES = new Set(["FAILED", "PARTIAL"]);

/** Throws a `RangeError` naming the config key (`min_count`, …) when the policy cannot work. */
export function checkSnapshotPolicy(policy: SnapshotRetentionPolicy): void {
  checkKeys(policy, KEYS);
  checkDuration(KEYS.expireAfterMs, policy.expireAfterMs);
  checkCount(KEYS.minCount, policy.minCount);
  checkCount(KEYS.maxCount, policy.maxCount);
  if (
    policy.minCount !== undefined && policy.maxCount !== undefined &&
    policy.minCount > policy.maxCount
  ) {
    throw new RangeError(
      `Invalid retention policy: min_count is ${policy.minCount} but max_count is ${policy.maxCount}: raise max_count or lower min_count so that min_count <= max_count`,
    );
  }
}

/**
 * Decides which of a job's snapshots to delete under an SLM-style policy: `expire_after`,
 * `min_count` and `max_count` over successful snapshots only.
 */
export function planSnapshotRetention(
  items: readonly BackupItem[],
  policy: SnapshotRetentionPolicy,
  options: SnapshotRetentionOptions,
): Plan {
  checkSnapshotPolicy(policy);
  checkNow(options.now);
  checkItems(items);
  const { expireAfterMs, minCount, maxCount } = policy;
  const empty = expireAfterMs === undefined && minCount === undefined && maxCount === undefined;
  const now = options.now.getTime();
  const job = options.job;
  const sorted = sortNewestFirst(items);
  const okTotal = sorted.filter((item) => item.ok && ownedBy(item, job)).length;
  const okKept: BackupItem[] = [];
  let position = 0;

  function decideOk(item: BackupItem): Verdict {
    position++;
    if (position === 1) {
      return verdict(
        item,
        "keep",
        "newest-success",
        "the newest successful snapshot is always kept",
      );
    }
    const age = now - item.time.getTime();
    const expired = expireAfterMs !== undefined && age > expireAfterMs;
    const beyondMax = maxCount !== undefined && position > maxCount;
    const expiry = expireAfterMs === undefined ? "" : formatDuration(expireAfterMs);
    const rank = `number ${position} of ${okTotal} successful snapshots`;
    // min_count <= max_count, so min_count only ever has to overrule expire_after.
    if (expired && minCount !== undefined && position <= minCount) {
      return verdict(
        item,
        "keep",
        "min_count",
        `expired (${
          formatAge(age)
        }, expire_after ${expiry}) but kept by min_count: ${rank}, and the ${minCount} newest are always kept`,
      );
    }
    if (expired) {
      const also = beyondMax ? `; also beyond max_count ${maxCount}` : "";
      return verdict(
        item,
        "delete",
        "expire_after",
        `expired: ${formatAge(age)}, older than expire_after ${expiry}${also}`,
      );
    }
    if (beyondMax) {
      return verdict(
        item,
        "delete",
        "max_count",
        `beyond max_count: ${rank}, and only the ${maxCount} newest are kept`,
      );
    }
    if (expireAfterMs !== undefined) {
      const within = maxCount === undefined ? "" : `, and within max_count (${rank})`;
      return verdict(
        item,
        "keep",
        "expire_after",
        `not expired: ${formatAge(age)}, expire_after ${expiry}${within}`,
      );
    }
    if (maxCount !== undefined) {
      return verdict(
        item,
        "keep",
        "max_count",
        `within max_count: ${rank}, and the ${maxCount} newest are kept`,
      );
    }
    return verdict(
      item,
      "keep",
      "min_count",
      "only min_count is set, and min_count alone never deletes a snapshot",
    );
  }

  const verdicts = sorted.map((item): Verdict => {
    if (!ownedBy(item, job)) return notThisJob(item, job ?? "", "snapshot");
    if (empty) return noPolicy(item);
    if (item.ok) {
      const decided = decideOk(item);
      if (decided.action === "keep") okKept.push(item);
      return decided;
    }
    if (isInProgress(item)) return inProgress(item, "snapshot");
    const state = item.state?.toUpperCase();
    if (state !== undefined && !FAILED_STATES.has(state)) {
      return verdict(
        item,
        "keep",
        "unknown-state",
        `state ${
          JSON.stringify(item.state)
        } is neither FAILED nor PARTIAL, the only unsuccessful states retention deletes`,
      );
    }
    return failedVerdict(item, nearestNewer(okKept, item.time), "snapshot");
  });
  return toPlan(verdicts);
}
