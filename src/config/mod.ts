/** Loads YAML config, expands environment variables and validates it into a typed Config. */
export { ConfigError, type ConfigIssue } from "./_errors.ts";
export { formatDuration, parseDuration, parseSize } from "./_duration.ts";
export type {
  BackupRetentionSection,
  ElasticsearchSection,
  EtcdSection,
  SnapshotRetentionSection,
  StorageSection,
} from "./_schema.ts";
export { expandEnv } from "./_env.ts";
export {
  type Config,
  DEFAULT_LISTEN,
  type DogStatsDConfig,
  type HaConfig,
  type JobConfig,
  KEY_PLACEHOLDERS,
  loadConfig,
  parseConfig,
  type ParseConfigOptions,
  parseListen,
  type StatusConfig,
  type UploadConfig,
} from "./_load.ts";
export { closest, editDistance } from "./_suggest.ts";
