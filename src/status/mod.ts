/** The status server: go-cron compatible JSON, dashboard, metrics, per-job detail, liveness. */
export { type DashboardOptions, renderDashboard } from "./_dashboard.ts";
export {
  constantTimeEqual,
  createStatusHandler,
  type StatusActions,
  type StatusHandlerOptions,
  type StatusSource,
} from "./_handler.ts";
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
