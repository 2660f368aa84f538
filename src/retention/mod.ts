/**
 * Retention as pure functions: given backups and a policy, which to delete and why. One plan
 * drives both the real deletion and the `--dry-run` listing.
 */
export type {
  BackupItem,
  BackupRetentionOptions,
  BackupRetentionPolicy,
  Plan,
  SnapshotRetentionOptions,
  SnapshotRetentionPolicy,
  Verdict,
} from "./_types.ts";
export { checkSnapshotPolicy, planSnapshotRetention } from "./_snapshot.ts";
export { checkBackupPolicy, planBackupRetention } from "./_backup.ts";
export { formatPlan } from "./_format.ts";
export {
  backupPolicyFromKeys,
  type BackupRetentionKeys,
  snapshotPolicyFromKeys,
  type SnapshotRetentionKeys,
} from "./_keys.ts";
