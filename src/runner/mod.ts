/** Runs jobs: timeout, retries, cancellation, output capture, overlap and group rules. */
export {
  type Clock,
  delay,
  FakeClock,
  settle,
  sleep,
  type SleepOptions,
  systemClock,
} from "./_clock.ts";
export {
  Dispatcher,
  type DispatcherOptions,
  type JobSpec,
  type OverlapPolicy,
  type TriggerOptions,
  type TriggerResult,
} from "./_dispatcher.ts";
export { BoundedOutput, LineSplitter } from "./_output.ts";
export { runJob, type RunJobOptions, StopRequest } from "./_run.ts";
export { persistStore, readStateFile, type StoredJob, writeStateFile } from "./_state_file.ts";
export { type JobHistory, type RunEvent, RunStore, type RunStoreOptions } from "./_store.ts";
export type {
  Artifact,
  Job,
  JobContext,
  JobOutcome,
  PreparedStart,
  Progress,
  RunRecord,
  RunResult,
  RunTrigger,
} from "./_types.ts";
