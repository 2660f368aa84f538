import type { ElasticsearchSection } from "../config/mod.ts";
import {
  classifySnapshot,
  EsClient,
  EsError,
  isDateMathName,
  renderNameTemplate,
  type SnapshotInfo,
  validateSnapshotName,
} from "../elasticsearch/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  type BackupItem,
  type Plan,
  planSnapshotRetention,
  snapshotPolicyFromKeys,
} from "../retention/mod.ts";
import { delay, type Job, type JobContext } from "../runner/mod.ts";

/** Snapshot names when the job sets none: sortable, and unique per second. */
export const DEFAULT_SNAPSHOT_NAME = "snapcron-{job}-%Y.%m.%d-%H%M%S";
/** The metadata key that marks a snapshot as this job's, so retention touches only its own. */
export const JOB_TAG = "snapcron_job";
const MAX_CREATE_BACKOFF_MS = 60_000;

/** A client for a job's `elasticsearch` section. */
export function esClient(es: ElasticsearchSection, log: Logger): EsClient {
  const auth = es.username !== undefined
    ? { username: es.username, password: es.password ?? "" }
    : es.api_key
    ? { apiKey: es.api_key }
    : es.bearer_token
    ? { bearer: es.bearer_token }
    : undefined;
  return new EsClient({
    urls: es.urls,
    ...(auth ? { auth } : {}),
    ...(es.ca_file ? { caFile: es.ca_file } : {}),
    ...(es.cert_file ? { certFile: es.cert_file } : {}),
    ...(es.key_file ? { keyFile: es.key_file } : {}),
    ...(es.request_timeout ? { timeoutMs: es.request_timeout } : {}),
    log,
  });
}

/** The snapshot name for a run: date math passes through (the server resolves it). */
export function snapshotName(es: ElasticsearchSection, job: string, at: Date): string {
  const template = es.snapshot ?? DEFAULT_SNAPSHOT_NAME;
  if (isDateMathName(template)) {
    validateSnapshotName(template);
    return template;
  }
  return renderNameTemplate(template, at, job);
}

/** The job's snapshots as retention items (other jobs' snapshots carry their own tag). */
export function snapshotItems(snapshots: readonly SnapshotInfo[]): BackupItem[] {
  return snapshots.map((snapshot) => {
    const tag = snapshot.metadata?.[JOB_TAG];
    return {
      id: snapshot.snapshot,
      time: new Date(snapshot.start_time_in_millis),
      ok: snapshot.state === "SUCCESS",
      state: snapshot.state,
      ...(typeof tag === "string" ? { job: tag } : {}),
    };
  });
}

/** Plans SLM-style retention for `job`'s snapshots in its repository. */
export async function planSnapshots(
  client: EsClient,
  es: ElasticsearchSection,
  job: string,
  options: { now: Date; signal?: AbortSignal },
): Promise<{ plan: Plan; items: BackupItem[] }> {
  const snapshots = await client.listSnapshots(
    es.repository.name,
    options.signal ? { signal: options.signal } : {},
  );
  const items = snapshotItems(snapshots);
  const plan = planSnapshotRetention(items, snapshotPolicyFromKeys(es.retention ?? {}), {
    now: options.now,
    job,
  });
  return { plan, items };
}

/** A job that takes an Elasticsearch/OpenSearch snapshot, waits for it and applies retention. */
export function elasticsearchJob(name: string, es: ElasticsearchSection): Job {
  let verified = false;
  return {
    name,
    kind: "elasticsearch",
    async run(ctx) {
      const client = esClient(es, ctx.log);
      const repo = es.repository.name;
      try {
        const info = await client.info();
        ctx.log.info(`Connected to ${info.flavour} ${info.version}`);
        await ensureRepository(client, es, ctx, !verified);
        verified = true;

        const snapshot = await createWithRetry(client, es, name, ctx);
        ctx.log.info(`Snapshot "${snapshot.snapshot}" started`, { repository: repo });
        let final: SnapshotInfo;
        try {
          final = await client.waitForSnapshot(repo, snapshot.snapshot, {
            signal: ctx.signal,
            current: snapshot,
            onProgress: (p) =>
              ctx.progress({
                done: p.shardsDone,
                total: p.shardsTotal,
                ...(p.bytesDone !== undefined ? { bytes: p.bytesDone } : {}),
                ...(p.bytesTotal !== undefined ? { totalBytes: p.bytesTotal } : {}),
                percent: p.shardsTotal > 0 ? Math.round((p.shardsDone / p.shardsTotal) * 100) : 0,
                message: `${p.state}: ${p.shardsDone}/${p.shardsTotal} shards`,
              }),
          });
        } catch (error) {
          if (ctx.signal.aborted && es.abort_on_timeout !== false) {
            try {
              const aborted = await client.cancelSnapshot(repo, snapshot.snapshot, {
                signal: AbortSignal.timeout(15_000),
              });
              if (aborted) {
                ctx.stderr(`Aborted snapshot "${snapshot.snapshot}" (abort_on_timeout)\n`);
              }
            } catch (cancelError) {
              ctx.stderr(
                `Could not abort snapshot "${snapshot.snapshot}": ${
                  (cancelError as Error).message
                }\n`,
              );
            }
          }
          throw error;
        }
        const verdict = classifySnapshot(final, {
          allowPartial: es.allow_partial ?? false,
          allowEmpty: es.allow_empty ?? false,
        });
        const artifact = {
          kind: "snapshot",
          name: final.snapshot,
          state: final.state,
          location: `${repo}/${final.snapshot}`,
        };
        const summary =
          `Snapshot "${final.snapshot}" ${final.state}: ${final.indices.length} indices, ` +
          `${final.shards.successful}/${final.shards.total} shards in ${
            (final.duration_in_millis / 1000).toFixed(1)
          }s`;
        if (!verdict.ok) {
          ctx.stderr(`${summary}\n${verdict.reason}\n`);
          return { exitStatus: 1, error: verdict.reason, artifacts: [artifact] };
        }
        ctx.stdout(summary + "\n");
        const deletions = es.retention ? await pruneSnapshots(client, es, name, ctx) : 0;
        return { exitStatus: 0, artifacts: [artifact], deletions };
      } finally {
        await client.close();
      }
    },
  };
}

/**
 * Makes sure the job's repository exists (creating it when `type` is given) and, when
 * `verify`, checks that every node can write to it. Returns the nodes that verified it.
 */
export async function ensureRepository(
  client: EsClient,
  es: ElasticsearchSection,
  ctx: Pick<JobContext, "log" | "signal">,
  verify: boolean,
): Promise<string[]> {
  const { name, type, settings, verify: wantVerify } = es.repository;
  if (type) {
    // The client logs a creation itself.
    await client.ensureRepository(name, {
      type,
      settings: Object.fromEntries(Object.entries(settings ?? {}).map(([k, v]) => [k, String(v)])),
    }, { signal: ctx.signal });
  } else if (!(await client.getRepository(name, { signal: ctx.signal }))) {
    throw new Error(
      `Snapshot repository "${name}" does not exist: create it, or give "repository.type" and "repository.settings" so snapcron creates it`,
    );
  }
  if (!verify || wantVerify === false) return [];
  const nodes = await client.verifyRepository(name, { signal: ctx.signal });
  ctx.log.info(`Repository "${name}" verified on ${nodes.length} node(s)`);
  return nodes.map((node) => node.name);
}

async function createWithRetry(
  client: EsClient,
  es: ElasticsearchSection,
  job: string,
  ctx: JobContext,
): Promise<SnapshotInfo> {
  const name = snapshotName(es, job, ctx.startedAt);
  const body = {
    ...(es.indices ? { indices: es.indices } : {}),
    ...(es.ignore_unavailable !== undefined ? { ignore_unavailable: es.ignore_unavailable } : {}),
    ...(es.include_global_state !== undefined
      ? { include_global_state: es.include_global_state }
      : {}),
    ...(es.partial !== undefined ? { partial: es.partial } : {}),
    ...(es.feature_states ? { feature_states: es.feature_states } : {}),
    metadata: { ...es.metadata, [JOB_TAG]: job, snapcron_run: ctx.runId },
  };
  for (let attempt = 1, wait = 2000;; attempt++, wait = Math.min(wait * 2, MAX_CREATE_BACKOFF_MS)) {
    try {
      return await client.createSnapshot(es.repository.name, name, body, {
        waitForCompletion: false,
        signal: ctx.signal,
      });
    } catch (error) {
      // Another snapshot or a deletion holds the repository: wait our turn, within the deadline.
      // Only an answer saying so is waited out: after a lost connection the snapshot may have
      // started anyway, and a cluster that is down must fail the run, not hold it until its
      // timeout (or forever, without one).
      if (!isBusyAnswer(error) || ctx.signal.aborted) throw error;
      ctx.log.warn(`Cannot start the snapshot yet (${error.type}): retrying`, {
        attempt,
        wait_ms: wait,
      });
      try {
        await delay(wait, ctx.signal);
      } catch (stopped) {
        // The deadline came first: say what kept the snapshot from starting.
        ctx.stderr(
          `Could not start snapshot "${name}" in ${attempt} attempt(s) before the run ended: ` +
            `${error.message}\n`,
        );
        throw stopped;
      }
    }
  }
}

/** The server answered that another snapshot operation is in the way (HTTP 503, 400 or 429). */
function isBusyAnswer(error: unknown): error is EsError {
  return error instanceof EsError && error.retryable && error.status > 0 &&
    error.type !== "bad_gateway";
}

/**
 * Deletes what SLM-style retention says of `job`'s snapshots. A failure is reported on the
 * run's stderr and in the log; it does not fail the snapshot that just succeeded.
 */
export async function pruneSnapshots(
  client: EsClient,
  es: ElasticsearchSection,
  job: string,
  ctx: JobContext,
): Promise<number> {
  try {
    const { plan } = await planSnapshots(client, es, job, { now: new Date(), signal: ctx.signal });
    if (plan.delete.length === 0) return 0;
    const result = await client.deleteSnapshots(es.repository.name, plan.delete, {
      signal: ctx.signal,
    });
    ctx.log.info(`Retention deleted ${result.deleted.length} snapshot(s)`, {
      kept: plan.keep.length,
    });
    return result.deleted.length;
  } catch (error) {
    const message = `Retention failed: ${(error as Error).message}`;
    ctx.log.error(message);
    ctx.stderr(message + "\n");
    return 0;
  }
}
