/** The status server: go-cron compatible JSON, per-job detail and liveness. */
export { createStatusHandler, type StatusHandlerOptions, type StatusSource } from "./_handler.ts";
export {
  type GoCronRun,
  goCronRun,
  jobJson,
  type JobState,
  jobState,
  type StatusJob,
  unhealthy,
} from "./_json.ts";
export { StatusServer, type StatusServerOptions } from "./_server.ts";
