import type { BackupRetentionPolicy, SnapshotRetentionPolicy } from "./_types.ts";

/** A `retention:` section for stored backups as written in the config (durations in ms). */
export interface BackupRetentionKeys {
  keep_last?: number | undefined;
  keep_within?: number | undefined;
  keep_hourly?: number | undefined;
  keep_daily?: number | undefined;
  keep_weekly?: number | undefined;
  keep_monthly?: number | undefined;
  keep_yearly?: number | undefined;
}

/** An `elasticsearch.retention:` section as written in the config (durations in ms). */
export interface SnapshotRetentionKeys {
  expire_after?: number | undefined;
  min_count?: number | undefined;
  max_count?: number | undefined;
}

/** The policy a config section describes. */
export function backupPolicyFromKeys(keys: BackupRetentionKeys): BackupRetentionPolicy {
  const policy: BackupRetentionPolicy = {};
  if (keys.keep_last !== undefined) policy.keepLast = keys.keep_last;
  if (keys.keep_within !== undefined) policy.keepWithinMs = keys.keep_within;
  if (keys.keep_hourly !== undefined) policy.keepHourly = keys.keep_hourly;
  if (keys.keep_daily !== undefined) policy.keepDaily = keys.keep_daily;
  if (keys.keep_weekly !== undefined) policy.keepWeekly = keys.keep_weekly;
  if (keys.keep_monthly !== undefined) policy.keepMonthly = keys.keep_monthly;
  if (keys.keep_yearly !== undefined) policy.keepYearly = keys.keep_yearly;
  return policy;
}

/** The policy a config section describes. */
export function snapshotPolicyFromKeys(keys: SnapshotRetentionKeys): SnapshotRetentionPolicy {
  const policy: SnapshotRetentionPolicy = {};
  if (keys.expire_after !== undefined) policy.expireAfterMs = keys.expire_after;
  if (keys.min_count !== undefined) policy.minCount = keys.min_count;
  if (keys.max_count !== undefined) policy.maxCount = keys.max_count;
  return policy;
}
