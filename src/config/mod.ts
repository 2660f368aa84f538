/** Loads YAML config, expands environment variables and validates it into a typed Config. */
export { ConfigError, type ConfigIssue } from "./_errors.ts";
export { formatDuration, parseDuration } from "./_duration.ts";
export { expandEnv } from "./_env.ts";
export {
  type Config,
  DEFAULT_LISTEN,
  type DogStatsDConfig,
  isTimeZone,
  type JobConfig,
  loadConfig,
  parseConfig,
  type ParseConfigOptions,
  parseListen,
  type StatusConfig,
} from "./_load.ts";
export { closest, editDistance } from "./_suggest.ts";
