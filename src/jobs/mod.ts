/** Job kinds, and the backup plumbing they share: storage, manifests, retention. */
export {
  type BackupTarget,
  housekeeping,
  keyPrefix,
  listBackups,
  type ListedBackup,
  type Manifest,
  MANIFEST_SUFFIX,
  pruneBackups,
  type PruneOptions,
  readManifest,
  renderKey,
  storeBackup,
  type StoreBackupOptions,
  storeOutput,
} from "./_backup.ts";
export { commandJob, type CommandJobOptions } from "./command.ts";
export {
  DEFAULT_SNAPSHOT_NAME,
  elasticsearchJob,
  ensureRepository,
  esClient,
  JOB_TAG,
  planSnapshots,
  pruneSnapshots,
  snapshotItems,
  snapshotName,
} from "./elasticsearch.ts";
export { etcdClient, etcdJob } from "./etcd.ts";
export { retentionJob, type RetentionSource } from "./retention.ts";
