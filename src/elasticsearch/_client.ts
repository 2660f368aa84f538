/**
 * The snapshot REST client: repositories, snapshots, restores and the few index look-ups a
 * restore needs, for Elasticsearch 7+ and OpenSearch, over plain fetch.
 */
import { type Logger, silentLogger } from "../log/mod.ts";
import { type Clock, sleep, systemClock } from "../runner/mod.ts";
import { errorFromAnswer, EsError, isRecord, parseErrorBody, snippet } from "./_errors.ts";
import { type HttpAnswer, type HttpRequest, type Query, Transport } from "./_http.ts";
import {
  dateMathWildcard,
  encodeSnapshotName,
  isDateMathName,
  validateSnapshotName,
} from "./_names.ts";
import {
  listedInStatus,
  progressFromRecovery,
  progressFromStatus,
  type RestoreProgress,
  type SnapshotProgress,
  type UnassignedShard,
  unassignedShards,
} from "./_progress.ts";
import { type ShardCounts, type SnapshotInfo, toSnapshotInfo } from "./_types.ts";

/** Credentials: basic, an API key (the base64 `encoded` form) or a bearer token. */
export type EsAuth = { username: string; password: string } | { apiKey: string } | {
  bearer: string;
};

/** Options of {@linkcode EsClient}. */
export interface EsClientOptions {
  /** Node or proxy URLs, tried in order; the one that answered is tried first next time. */
  urls: string[];
  auth?: EsAuth;
  /** PEM file of an extra CA to trust. */
  caFile?: string;
  /** PEM client certificate (with `keyFile`) for mutual TLS. */
  certFile?: string;
  keyFile?: string;
  /** Per request and per URL; default 30 s. Waits for completion default to 24 h. */
  timeoutMs?: number;
  /** Largest answer read; default 32 MiB. */
  maxResponseBytes?: number;
  log?: Logger;
  /** Time for polling and back-off; tests pass a fake. */
  clock?: Clock;
  /** Replaces `fetch` (tests count requests with it). */
  fetch?: typeof fetch;
}

/** Server family and version, from {@linkcode EsClient.info}. */
export interface EsInfo {
  flavour: "elasticsearch" | "opensearch";
  version: string;
  major: number;
  minor: number;
}

/** A snapshot repository: its type and settings (the server reports every value as a string). */
export interface RepositorySpec {
  type: string;
  settings: Record<string, unknown>;
}

/** A node that checked it can write to a repository. */
export interface VerifiedNode {
  id: string;
  name: string;
}

/** Body of a snapshot creation; fields left out keep the server's defaults. */
export interface CreateSnapshotBody {
  indices?: string | string[];
  ignore_unavailable?: boolean;
  /** The server's default is true. */
  include_global_state?: boolean;
  partial?: boolean;
  feature_states?: string[];
  /** Stored with the snapshot; the server caps it at 1 KiB of JSON. */
  metadata?: Record<string, unknown>;
}

/** Options of a call that may wait for the server to finish. */
export interface WaitOptions {
  waitForCompletion: boolean;
  signal?: AbortSignal;
  /** Timeout of this request; default 24 h when waiting, else the client's timeout. */
  timeoutMs?: number;
}

/** Options of a plain call. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Options of {@linkcode EsClient.waitForSnapshot}. */
export interface WaitForSnapshotOptions {
  signal?: AbortSignal;
  /** Time between requests; default and minimum 1000 ms. */
  intervalMs?: number;
  onProgress?: (progress: SnapshotProgress) => void;
  /**
   * The snapshot as just read, e.g. {@linkcode EsClient.createSnapshot}'s answer: returned at
   * once when it has finished, else the first request waits one interval instead of reading
   * the snapshot again straight away.
   */
  current?: SnapshotInfo;
}

/** Options of {@linkcode EsClient.listSnapshots}. */
export interface ListSnapshotsOptions {
  /**
   * Default true. `false` is cheap but the server then gives only name, uuid, state and
   * indices, in name order (times stay 0).
   */
  verbose?: boolean;
  signal?: AbortSignal;
}

/** Options of {@linkcode EsClient.deleteSnapshots}. */
export interface DeleteSnapshotsOptions {
  signal?: AbortSignal;
  /** Retries of a batch refused as a concurrent operation; default 4. */
  retries?: number;
  /** First back-off, doubled each retry; default 1000 ms. */
  backoffMs?: number;
}

/** What {@linkcode EsClient.deleteSnapshots} did. */
export interface DeleteSnapshotsResult {
  deleted: string[];
  /** Names that did not exist (deleted by someone else, or never made). */
  missing: string[];
}

/** Body of a restore; `include_global_state` defaults to false here, as on the server. */
export interface RestoreSnapshotBody {
  indices?: string | string[];
  rename_pattern?: string;
  rename_replacement?: string;
  include_global_state?: boolean;
  include_aliases?: boolean;
  partial?: boolean;
  index_settings?: Record<string, unknown>;
}

/** Options of {@linkcode EsClient.restoreSnapshot}. */
export interface RestoreOptions extends WaitOptions {
  /**
   * While waiting for completion: called with the shards' recovery progress, one status
   * request at a time and at most one per `intervalMs`.
   */
  onProgress?: (progress: RestoreProgress) => void;
  /** Time between progress requests; default and minimum 1000 ms. */
  intervalMs?: number;
  /** Names the restored indices get (after renaming), so that only their recovery is asked. */
  targets?: readonly string[];
}

/** Outcome of a restore; counts are known only when it was waited for. */
export interface RestoreResult {
  snapshot: string;
  completed: boolean;
  indices: string[];
  shards: ShardCounts;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_WAIT_TIMEOUT_MS = 24 * 3600_000;
const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
const MIN_POLL_INTERVAL_MS = 1000;
/** Listing page size on servers that paginate. */
const PAGE_SIZE = 200;
const MAX_PAGES = 100_000;
/** URLs stay below what proxies and the server's default `http.max_initial_line_length` take. */
const MAX_URL_LENGTH = 4000;
const METADATA_MAX_BYTES = 1024;
/** How far back a date-math snapshot just created may have started (clock skew). */
const CREATED_SKEW_MS = 60_000;

/** A snapshot REST client for Elasticsearch and OpenSearch. */
export class EsClient {
  readonly #transport: Transport;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #closer = new AbortController();
  readonly #tls: { caFile?: string; certFile?: string; keyFile?: string };
  #httpClient: Promise<Deno.HttpClient | undefined> | undefined;
  #info: Promise<EsInfo> | undefined;
  #closed = false;

  /** Checks the options; nothing is sent before the first call. */
  constructor(options: EsClientOptions) {
    if (!Array.isArray(options.urls) || options.urls.length === 0) {
      throw new TypeError(
        'Cannot create the Elasticsearch client: give at least one URL in "urls"',
      );
    }
    const parsed = options.urls.map(parseBaseUrl);
    const fromUrl = parsed.find((entry) => entry.auth !== undefined)?.auth;
    const auth = options.auth ?? fromUrl;
    this.#timeoutMs = positive(options.timeoutMs, DEFAULT_TIMEOUT_MS, "timeoutMs");
    this.#log = options.log ?? silentLogger();
    this.#clock = options.clock ?? systemClock;
    this.#tls = pickDefined({
      caFile: options.caFile,
      certFile: options.certFile,
      keyFile: options.keyFile,
    });
    if ((this.#tls.certFile === undefined) !== (this.#tls.keyFile === undefined)) {
      throw new TypeError(
        'Cannot create the Elasticsearch client: give both "cert_file" and "key_file", or neither',
      );
    }
    this.#transport = new Transport({
      urls: parsed.map((entry) => entry.base),
      headers: auth ? { authorization: authorization(auth) } : {},
      timeoutMs: this.#timeoutMs,
      maxResponseBytes: positive(
        options.maxResponseBytes,
        DEFAULT_MAX_RESPONSE_BYTES,
        "maxResponseBytes",
      ),
      log: this.#log,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      closed: this.#closer.signal,
      httpClient: () => this.#getHttpClient(),
    });
  }

  /** Aborts requests under way and releases the TLS client; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closer.abort(new Error("Cannot finish the request: the Elasticsearch client was closed"));
    const client = await this.#httpClient?.catch(() => undefined);
    client?.close();
  }

  /**
   * Flavour and version of the cluster, asked once: `GET /`, or the local node's info where
   * `GET /` is refused (the integration-test zip answers it with 405).
   */
  info(): Promise<EsInfo> {
    if (this.#info === undefined) {
      const detecting = this.#detect();
      this.#info = detecting;
      // A failed detection is asked again next time rather than cached.
      detecting.catch(() => {
        if (this.#info === detecting) this.#info = undefined;
      });
    }
    return this.#info;
  }

  // ---------------------------------------------------------------------------------------
  // Repositories

  /** A repository's type and settings, or undefined when it does not exist. */
  async getRepository(
    name: string,
    options: CallOptions = {},
  ): Promise<RepositorySpec | undefined> {
    const answer = await this.#send({
      method: "GET",
      path: `/_snapshot/${encodeName(name, "repository")}`,
      query: await this.#masterQuery(),
      ...signalOf(options),
    });
    if (answer.status === 404 && errorType(answer) === "repository_missing_exception") {
      return undefined;
    }
    const body = this.#ok(answer);
    const repo = isRecord(body) ? body[name] : undefined;
    if (!isRecord(repo) || typeof repo.type !== "string") {
      throw invalidAnswer(answer, `no repository "${name}" in the answer`);
    }
    return { type: repo.type, settings: isRecord(repo.settings) ? flatten(repo.settings) : {} };
  }

  /**
   * Creates the repository unless it exists. An existing one must have the same type and the
   * given settings (compared as strings), or an EsError lists what differs. Created with
   * `verify=false`: verifying is {@linkcode verifyRepository}'s, when the job wants it (the
   * server's own check would run on the snapshot threads and wait behind a running snapshot).
   */
  async ensureRepository(
    name: string,
    spec: RepositorySpec,
    options: CallOptions = {},
  ): Promise<"created" | "exists"> {
    const existing = await this.getRepository(name, options);
    if (existing === undefined) {
      const answer = await this.#send({
        method: "PUT",
        path: `/_snapshot/${encodeName(name, "repository")}`,
        query: { ...(await this.#masterQuery()), verify: false },
        body: { type: spec.type, settings: spec.settings },
        ...signalOf(options),
      });
      this.#ok(answer);
      this.#log.info("Created snapshot repository", { repository: name, type: spec.type });
      return "created";
    }
    const differences = repositoryDifferences(existing, spec);
    if (differences.length > 0) {
      throw new EsError({
        type: "repository_settings_mismatch",
        status: 0,
        reason: `repository "${name}" exists with other settings: ${differences.join(", ")}` +
          " (use another repository name, or change the config to match)",
        retryable: false,
      });
    }
    return "exists";
  }

  /** Asks every node to write to the repository; returns the nodes that could. */
  async verifyRepository(name: string, options: CallOptions = {}): Promise<VerifiedNode[]> {
    const body = this.#ok(
      await this.#send({
        method: "POST",
        path: `/_snapshot/${encodeName(name, "repository")}/_verify`,
        query: await this.#masterQuery(),
        ...signalOf(options),
      }),
    );
    const nodes = isRecord(body) && isRecord(body.nodes) ? body.nodes : {};
    return Object.entries(nodes).map(([id, node]) => ({
      id,
      name: isRecord(node) && typeof node.name === "string" ? node.name : id,
    }));
  }

  // ---------------------------------------------------------------------------------------
  // Snapshots

  /**
   * Starts a snapshot. When waiting, the answer is the finished snapshot, FAILED included
   * (older servers answer FAILED with HTTP 500 and the usual body); otherwise the snapshot as
   * it is just after starting, found again by its resolved name for date-math names.
   */
  async createSnapshot(
    repo: string,
    name: string,
    body: CreateSnapshotBody,
    options: WaitOptions,
  ): Promise<SnapshotInfo> {
    validateSnapshotName(name);
    checkMetadata(body.metadata);
    const sentAt = this.#clock.now().getTime();
    const answer = await this.#send({
      method: "PUT",
      path: `/_snapshot/${encodeName(repo, "repository")}/${encodeSnapshotName(name)}`,
      query: { ...(await this.#masterQuery()), wait_for_completion: options.waitForCompletion },
      body: definedOnly(body),
      timeoutMs: options.timeoutMs ??
        (options.waitForCompletion ? DEFAULT_WAIT_TIMEOUT_MS : this.#timeoutMs),
      ...signalOf(options),
    });
    const snapshot = isRecord(answer.body) ? toSnapshotInfo(answer.body.snapshot) : undefined;
    if (snapshot !== undefined) return snapshot;
    this.#ok(answer);
    if (isRecord(answer.body) && answer.body.accepted === true) {
      return isDateMathName(name)
        ? await this.#findCreated(repo, name, sentAt, options)
        : await this.#getExisting(repo, name, options);
    }
    throw invalidAnswer(answer, 'neither a snapshot nor "accepted" in the answer');
  }

  /** One snapshot by its (resolved) name, or undefined when it does not exist. */
  async getSnapshot(
    repo: string,
    name: string,
    options: CallOptions = {},
  ): Promise<SnapshotInfo | undefined> {
    validatePlainName(name);
    const answer = await this.#send({
      method: "GET",
      path: `/_snapshot/${encodeName(repo, "repository")}/${encodeSnapshotName(name)}`,
      query: await this.#masterQuery(),
      ...signalOf(options),
    });
    if (answer.status === 404 && errorType(answer) === "snapshot_missing_exception") {
      return undefined;
    }
    return snapshotsOf(this.#ok(answer)).find((info) => info.snapshot === name);
  }

  /**
   * Polls until the snapshot is no longer IN_PROGRESS and returns it. Each tick is one
   * request, at most one per `intervalMs`: the running-snapshots status of the repository
   * (cheap, with shard and byte counts) while it lists the snapshot running, then the snapshot
   * itself until it has finished: at once when the status no longer lists it at all (it has
   * ended), a tick later while it lists it finalizing.
   * Throws EsError `snapshot_missing_exception` when the snapshot was deleted (cancelled).
   */
  async waitForSnapshot(
    repo: string,
    name: string,
    options: WaitForSnapshotOptions = {},
  ): Promise<SnapshotInfo> {
    validatePlainName(name);
    const interval = Math.max(MIN_POLL_INTERVAL_MS, options.intervalMs ?? MIN_POLL_INTERVAL_MS);
    const { signal, onProgress, current } = options;
    if (current !== undefined && current.state !== "IN_PROGRESS") return current;
    let lastRequest = current === undefined
      ? Number.NEGATIVE_INFINITY
      : this.#clock.now().getTime();
    let askStatus = current !== undefined;
    // Once the status no longer lists it running, only its finalization is left: asking the
    // snapshot itself at each tick notices its end within one interval.
    let finishing = false;
    if (current !== undefined) {
      onProgress?.({
        state: "IN_PROGRESS",
        shardsDone: current.shards.successful,
        shardsTotal: current.shards.total,
      });
    }
    for (;;) {
      signal?.throwIfAborted();
      const wait = lastRequest + interval - this.#clock.now().getTime();
      if (wait > 0) await sleep(this.#clock, wait, signal);
      lastRequest = this.#clock.now().getTime();
      if (askStatus) {
        const { progress, listed } = await this.#runningProgress(repo, name, signal);
        if (progress !== undefined) {
          onProgress?.(progress);
          continue;
        }
        askStatus = false;
        finishing = true;
        // Gone from the listing: it has ended, so its result is read now, not an interval later
        // (still listed, it is being finalized and the next tick reads it).
        if (!listed) lastRequest = Number.NEGATIVE_INFINITY;
        continue;
      }
      const info = await this.#getExisting(repo, name, pickDefined({ signal }));
      if (info.state !== "IN_PROGRESS") return info;
      onProgress?.({
        state: "IN_PROGRESS",
        shardsDone: info.shards.successful,
        shardsTotal: info.shards.total,
      });
      askStatus = !finishing;
    }
  }

  /**
   * Every snapshot of the repository, oldest first: paged by the server on Elasticsearch 7.14+,
   * sorted here on OpenSearch and older servers.
   */
  async listSnapshots(repo: string, options: ListSnapshotsOptions = {}): Promise<SnapshotInfo[]> {
    const verbose = options.verbose ?? true;
    const info = await this.info();
    const path = `/_snapshot/${encodeName(repo, "repository")}/_all`;
    const base = { ...(await this.#masterQuery()), ...(verbose ? {} : { verbose: false }) };
    if (!verbose || !supportsPaging(info)) {
      const all = snapshotsOf(
        this.#ok(await this.#send({ method: "GET", path, query: base, ...signalOf(options) })),
      );
      return verbose ? all.sort(byStartTime) : all;
    }
    const out: SnapshotInfo[] = [];
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const body = this.#ok(
        await this.#send({
          method: "GET",
          path,
          query: { ...base, sort: "start_time", order: "asc", size: PAGE_SIZE, after },
          ...signalOf(options),
        }),
      );
      out.push(...snapshotsOf(body));
      const next = isRecord(body) && typeof body.next === "string" ? body.next : undefined;
      if (next === undefined || next === after) return out;
      after = next;
    }
    throw new EsError({
      type: "invalid_response",
      status: 0,
      reason: `listing repository "${repo}" did not end after ${MAX_PAGES} pages`,
    });
  }

  /**
   * Deletes snapshots, several per request (URLs kept under 4 KB). A batch refused because
   * another snapshot operation runs is retried with back-off; names that do not exist are
   * reported, not an error.
   */
  async deleteSnapshots(
    repo: string,
    names: readonly string[],
    options: DeleteSnapshotsOptions = {},
  ): Promise<DeleteSnapshotsResult> {
    for (const name of names) validatePlainName(name);
    const result: DeleteSnapshotsResult = { deleted: [], missing: [] };
    const master = await this.#masterQuery();
    const path = `/_snapshot/${encodeName(repo, "repository")}/`;
    for (const batch of this.#batches(path, master, [...new Set(names)])) {
      await this.#deleteBatch(repo, path, master, batch, result, options);
    }
    return result;
  }

  /**
   * Aborts a running snapshot (by deleting it). Returns false, deleting nothing, when the
   * snapshot is missing or already finished, so a finished backup is never thrown away.
   */
  async cancelSnapshot(repo: string, name: string, options: CallOptions = {}): Promise<boolean> {
    const info = await this.getSnapshot(repo, name, options);
    if (info?.state !== "IN_PROGRESS") return false;
    const server = await this.info();
    // Aborting a throttled snapshot can take minutes; ES 8+ can answer once the abort is
    // scheduled instead of when it is done. OpenSearch does not know the parameter.
    const scheduleOnly = server.flavour === "elasticsearch" && server.major >= 8;
    const answer = await this.#send({
      method: "DELETE",
      path: `/_snapshot/${encodeName(repo, "repository")}/${encodeSnapshotName(name)}`,
      query: {
        ...(await this.#masterQuery()),
        ...(scheduleOnly ? { wait_for_completion: false } : {}),
      },
      ...signalOf(options),
    });
    if (answer.status === 404 && errorType(answer) === "snapshot_missing_exception") return false;
    this.#ok(answer);
    this.#log.info("Cancelled snapshot", { repository: repo, snapshot: name });
    return true;
  }

  /**
   * Restores indices from a snapshot. The server refuses to restore over an open index
   * (`snapshot_restore_exception`): check with {@linkcode EsClient.openIndices} first or rename.
   * When waiting with `onProgress`, the shards' recovery (`GET /{targets}/_recovery`, on
   * Elasticsearch and OpenSearch alike) is polled beside the waiting request, which alone
   * decides the outcome: its shard counts include the shards whose recovery failed, which
   * `_recovery` stops listing.
   */
  async restoreSnapshot(
    repo: string,
    name: string,
    body: RestoreSnapshotBody,
    options: RestoreOptions,
  ): Promise<RestoreResult> {
    validatePlainName(name);
    const watching = new AbortController();
    const watched = options.waitForCompletion && options.onProgress
      ? this.#watchRestore(repo, name, options, watching.signal)
      : Promise.resolve();
    let answer: HttpAnswer;
    try {
      answer = await this.#sendRestore(repo, name, body, options);
    } finally {
      watching.abort();
      await watched;
    }
    return restoreResult(this.#ok(answer), name);
  }

  async #sendRestore(
    repo: string,
    name: string,
    body: RestoreSnapshotBody,
    options: WaitOptions,
  ): Promise<HttpAnswer> {
    return await this.#send({
      method: "POST",
      path: `/_snapshot/${encodeName(repo, "repository")}/${encodeSnapshotName(name)}/_restore`,
      query: { ...(await this.#masterQuery()), wait_for_completion: options.waitForCompletion },
      body: { ...definedOnly(body), include_global_state: body.include_global_state ?? false },
      timeoutMs: options.timeoutMs ??
        (options.waitForCompletion ? DEFAULT_WAIT_TIMEOUT_MS : this.#timeoutMs),
      ...signalOf(options),
    });
  }

  /** Polls the recovery of a restore until `stop` aborts; a failed poll is only logged. */
  async #watchRestore(
    repo: string,
    name: string,
    options: RestoreOptions,
    stop: AbortSignal,
  ): Promise<void> {
    const interval = Math.max(MIN_POLL_INTERVAL_MS, options.intervalMs ?? MIN_POLL_INTERVAL_MS);
    const signal = AbortSignal.any([stop, ...(options.signal ? [options.signal] : [])]);
    const targets = options.targets ?? [];
    const path = targets.length > 0
      ? `/${targets.map((i) => encodeName(i, "index")).join(",")}`
      : "";
    const request: HttpRequest = {
      method: "GET",
      path: `${path}/_recovery`,
      query: {
        ignore_unavailable: true,
        allow_no_indices: true,
        filter_path: "*.shards.stage,*.shards.source.repository,*.shards.source.snapshot," +
          "*.shards.index.size.total_in_bytes,*.shards.index.size.recovered_in_bytes",
      },
      signal,
    };
    // Many targets would make the URL too long: ask every index's recovery and filter here.
    if (this.#transport.maxUrlLength(request) > MAX_URL_LENGTH) request.path = "/_recovery";
    let failures = 0;
    try {
      for (;;) {
        await sleep(this.#clock, interval, signal);
        try {
          const body = this.#ok(await this.#send(request));
          options.onProgress?.(progressFromRecovery(body, repo, name));
        } catch (error) {
          if (signal.aborted) return;
          // Progress is a courtesy: the restore's own answer decides the outcome.
          if (failures++ === 0) {
            this.#log.warn("Cannot read the restore's progress", {
              error: (error as Error).message,
            });
          }
        }
      }
    } catch {
      // Stopped: the restore answered, or the caller gave up.
    }
  }

  /**
   * The unassigned shards of `indices` with the server's reason, e.g. why the recovery of a
   * restored shard failed.
   */
  async unassignedShards(
    indices: readonly string[],
    options: CallOptions = {},
  ): Promise<UnassignedShard[]> {
    if (indices.length === 0) return [];
    const body = this.#ok(
      await this.#send({
        method: "GET",
        path: `/_cat/shards/${indices.map((name) => encodeName(name, "index")).join(",")}`,
        query: {
          format: "json",
          h: "index,shard,prirep,state,unassigned.reason,unassigned.details",
        },
        ...signalOf(options),
      }),
    );
    return unassignedShards(body);
  }

  // ---------------------------------------------------------------------------------------
  // Indices

  /** True when the index, alias or data stream exists (a wildcard: when anything matches). */
  async indexExists(name: string, options: CallOptions = {}): Promise<boolean> {
    const answer = await this.#send({
      method: "HEAD",
      path: `/${encodeName(name, "index")}`,
      ...signalOf(options),
    });
    if (answer.status === 404) return false;
    this.#ok(answer);
    return true;
  }

  /** Which of `names` (wildcards allowed) exist as open indices, sorted; closed ones left out. */
  async openIndices(names: readonly string[], options: CallOptions = {}): Promise<string[]> {
    if (names.length === 0) return [];
    const body = this.#ok(
      await this.#send({
        method: "GET",
        path: `/_cluster/state/metadata/${
          names.map((name) => encodeName(name, "index")).join(",")
        }`,
        query: {
          ...(await this.#masterQuery()),
          filter_path: "metadata.indices.*.state",
          expand_wildcards: "all",
          ignore_unavailable: true,
          allow_no_indices: true,
        },
        ...signalOf(options),
      }),
    );
    const indices = isRecord(body) && isRecord(body.metadata) && isRecord(body.metadata.indices)
      ? body.metadata.indices
      : {};
    return Object.entries(indices)
      .filter(([, index]) => isRecord(index) && index.state === "open")
      .map(([index]) => index)
      .sort();
  }

  /** Closes `names` (exact index names), so a restore may replace them. */
  async closeIndices(names: readonly string[], options: CallOptions = {}): Promise<void> {
    if (names.length === 0) return;
    this.#ok(
      await this.#send({
        method: "POST",
        path: `/${names.map((name) => encodeName(name, "index")).join(",")}/_close`,
        query: { ...(await this.#masterQuery()) },
        ...signalOf(options),
      }),
    );
  }

  // ---------------------------------------------------------------------------------------
  // Internals

  async #send(request: HttpRequest): Promise<HttpAnswer> {
    if (this.#closed) {
      throw new Error("Cannot send the request: the Elasticsearch client is closed");
    }
    return await this.#transport.send(request);
  }

  /** The body of a 2xx answer; an EsError for anything else. */
  #ok(answer: HttpAnswer): unknown {
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    throw errorFromAnswer(answer);
  }

  async #detect(): Promise<EsInfo> {
    const root = await this.#send({ method: "GET", path: "/" });
    const version = isRecord(root.body) && isRecord(root.body.version)
      ? root.body.version
      : undefined;
    if (root.status === 200 && typeof version?.number === "string") {
      const flavour = version.distribution === "opensearch" ? "opensearch" : "elasticsearch";
      return this.#detected(parseVersion(version.number, flavour, root.url));
    }
    // `GET /` can be refused (the integration-test zip answers 405, restricted users get 403):
    // the local node's info carries the version too.
    const nodes = await this.#send({
      method: "GET",
      path: "/_nodes/_local",
      query: { filter_path: "nodes.*.version" },
    });
    const body = this.#ok(nodes);
    const node = isRecord(body) && isRecord(body.nodes) ? Object.values(body.nodes)[0] : undefined;
    const number = isRecord(node) && typeof node.version === "string" ? node.version : undefined;
    if (number === undefined) {
      throw new EsError({
        type: "invalid_response",
        status: nodes.status,
        reason: `cannot tell the server version: "GET /" answered HTTP ${root.status} ` +
          "and the node info has no version",
        method: "GET",
        url: nodes.url,
      });
    }
    // Elasticsearch 7.14+ marks every answer; OpenSearch numbers its releases 1 to 3.
    const marked = nodes.headers.get("x-elastic-product") === "Elasticsearch";
    const major = Number.parseInt(number, 10);
    const flavour = marked || major > 3 ? "elasticsearch" : "opensearch";
    return this.#detected(parseVersion(number, flavour, nodes.url));
  }

  #detected(info: EsInfo): EsInfo {
    this.#log.debug("Detected search server", { flavour: info.flavour, version: info.version });
    return info;
  }

  /** How long the cluster may queue a request on the master: a little under our own timeout. */
  async #masterQuery(): Promise<Query> {
    const info = await this.info();
    const key = info.flavour === "opensearch" && info.major >= 2
      ? "cluster_manager_timeout"
      : "master_timeout";
    return { [key]: `${Math.max(1000, this.#timeoutMs - 1000)}ms` };
  }

  async #getExisting(repo: string, name: string, options: CallOptions): Promise<SnapshotInfo> {
    const info = await this.getSnapshot(repo, name, options);
    if (info !== undefined) return info;
    throw new EsError({
      type: "snapshot_missing_exception",
      status: 404,
      reason: `snapshot "${name}" is not in repository "${repo}" (deleted or cancelled?)`,
      retryable: false,
    });
  }

  /** Finds a just-started date-math snapshot: the server does not resolve date math on reads. */
  async #findCreated(
    repo: string,
    name: string,
    sentAt: number,
    options: CallOptions,
  ): Promise<SnapshotInfo> {
    const info = await this.info();
    const query: Query = { ...(await this.#masterQuery()) };
    if (supportsPaging(info)) Object.assign(query, { sort: "start_time", order: "desc", size: 10 });
    const answer = await this.#send({
      method: "GET",
      path: `/_snapshot/${encodeName(repo, "repository")}/${
        encodeURIComponent(dateMathWildcard(name))
      }`,
      query,
      ...signalOf(options),
    });
    const candidates = answer.status === 404 ? [] : snapshotsOf(this.#ok(answer))
      .filter((s) =>
        s.state === "IN_PROGRESS" || s.start_time_in_millis >= sentAt - CREATED_SKEW_MS
      )
      .sort((a, b) => b.start_time_in_millis - a.start_time_in_millis);
    const found = candidates[0];
    if (found !== undefined) return found;
    throw new EsError({
      type: "snapshot_missing_exception",
      status: 0,
      reason: `the server accepted "${name}" but no snapshot matching "${
        dateMathWildcard(name)
      }" started`,
      retryable: false,
    });
  }

  async #runningProgress(
    repo: string,
    name: string,
    signal: AbortSignal | undefined,
  ): Promise<{ progress: SnapshotProgress | undefined; listed: boolean }> {
    const body = this.#ok(
      await this.#send({
        method: "GET",
        path: `/_snapshot/${encodeName(repo, "repository")}/_status`,
        query: {
          ...(await this.#masterQuery()),
          filter_path: "snapshots.snapshot,snapshots.state,snapshots.shards_stats,snapshots.stats",
        },
        ...pickDefined({ signal }),
      }),
    );
    return { progress: progressFromStatus(body, name), listed: listedInStatus(body, name) };
  }

  /** Splits names into comma-joined groups whose URL stays under {@linkcode MAX_URL_LENGTH}. */
  #batches(path: string, query: Query, names: string[]): string[][] {
    const fixed = this.#transport.maxUrlLength({ path, query });
    const batches: string[][] = [];
    let batch: string[] = [];
    let length = fixed;
    for (const name of names) {
      const extra = encodeSnapshotName(name).length + (batch.length > 0 ? 1 : 0);
      if (batch.length > 0 && length + extra > MAX_URL_LENGTH) {
        batches.push(batch);
        batch = [];
        length = fixed;
      }
      length += encodeSnapshotName(name).length + (batch.length > 0 ? 1 : 0);
      batch.push(name);
    }
    if (batch.length > 0) batches.push(batch);
    return batches;
  }

  async #deleteBatch(
    repo: string,
    path: string,
    query: Query,
    names: string[],
    result: DeleteSnapshotsResult,
    options: DeleteSnapshotsOptions,
  ): Promise<void> {
    const retries = options.retries ?? 4;
    let backoff = options.backoffMs ?? 1000;
    let batch = names;
    for (let attempt = 0; batch.length > 0; attempt++) {
      const answer = await this.#send({
        method: "DELETE",
        path: path + batch.map(encodeSnapshotName).join(","),
        query,
        ...signalOf(options),
      });
      if (answer.status >= 200 && answer.status < 300) {
        result.deleted.push(...batch);
        this.#log.info("Deleted snapshots", { repository: repo, snapshots: batch.join(",") });
        return;
      }
      const error = errorFromAnswer(answer);
      if (error.type === "snapshot_missing_exception") {
        // The whole request fails when one name is missing: keep the ones that exist.
        const existing = await this.#existingNames(path, batch, options);
        result.missing.push(...batch.filter((name) => !existing.has(name)));
        batch = batch.filter((name) => existing.has(name));
        continue;
      }
      if (!error.retryable || attempt >= retries) throw error;
      this.#log.warn("Snapshot delete refused, retrying", {
        repository: repo,
        error: error.message,
        backoffMs: backoff,
      });
      await sleep(this.#clock, backoff, options.signal);
      backoff *= 2;
    }
  }

  async #existingNames(path: string, names: string[], options: CallOptions): Promise<Set<string>> {
    const body = this.#ok(
      await this.#send({
        method: "GET",
        path: path + names.map(encodeSnapshotName).join(","),
        query: { ...(await this.#masterQuery()), ignore_unavailable: true, verbose: false },
        ...signalOf(options),
      }),
    );
    return new Set(snapshotsOf(body).map((info) => info.snapshot));
  }

  #getHttpClient(): Promise<Deno.HttpClient | undefined> {
    this.#httpClient ??= createHttpClient(this.#tls);
    return this.#httpClient;
  }
}

async function createHttpClient(
  tls: { caFile?: string; certFile?: string; keyFile?: string },
): Promise<Deno.HttpClient | undefined> {
  if (tls.caFile === undefined && tls.certFile === undefined) return undefined;
  const read = async (file: string, what: string): Promise<string> => {
    try {
      return await Deno.readTextFile(file);
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new Error(`Cannot read the ${what} "${file}": ${detail}`, { cause });
    }
  };
  const options: Deno.CreateHttpClientOptions & Partial<Deno.TlsCertifiedKeyPem> = {};
  if (tls.caFile !== undefined) options.caCerts = [await read(tls.caFile, "CA file")];
  if (tls.certFile !== undefined && tls.keyFile !== undefined) {
    options.cert = await read(tls.certFile, "client certificate");
    options.key = await read(tls.keyFile, "client key");
  }
  return Deno.createHttpClient(options as Deno.CreateHttpClientOptions);
}

/** Reads a restore's answer: the counts when it was waited for, else just "accepted". */
function restoreResult(out: unknown, name: string): RestoreResult {
  const restored = isRecord(out) && isRecord(out.snapshot) ? out.snapshot : undefined;
  if (restored === undefined) {
    return {
      snapshot: name,
      completed: false,
      indices: [],
      shards: { total: 0, failed: 0, successful: 0 },
    };
  }
  const shards = isRecord(restored.shards) ? restored.shards : {};
  return {
    snapshot: name,
    completed: true,
    indices: Array.isArray(restored.indices)
      ? restored.indices.filter((i) => typeof i === "string")
      : [],
    shards: {
      total: count(shards.total),
      failed: count(shards.failed),
      successful: count(shards.successful),
    },
  };
}

function invalidAnswer(answer: HttpAnswer, reason: string): EsError {
  return new EsError({
    type: "invalid_response",
    status: answer.status,
    reason: `${reason}: ${snippet(answer.body)}`,
    method: answer.method,
    url: answer.url,
    retryable: false,
  });
}

function parseBaseUrl(raw: string): { base: string; auth?: EsAuth } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(
      `Cannot use Elasticsearch URL "${raw}": not a URL (expected e.g. "https://es.example:9200")`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`Cannot use Elasticsearch URL "${url.origin}": expected http or https`);
  }
  const auth = url.username === ""
    ? undefined
    : { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  url.username = "";
  url.password = "";
  url.search = "";
  url.hash = "";
  const base = url.href.replace(/\/+$/, "");
  return auth === undefined ? { base } : { base, auth };
}

function authorization(auth: EsAuth): string {
  if ("apiKey" in auth) return `ApiKey ${auth.apiKey}`;
  if ("bearer" in auth) return `Bearer ${auth.bearer}`;
  const bytes = new TextEncoder().encode(`${auth.username}:${auth.password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

function parseVersion(number: string, flavour: EsInfo["flavour"], url: string): EsInfo {
  const match = /^(\d+)\.(\d+)/.exec(number);
  if (match === null) {
    throw new EsError({
      type: "invalid_response",
      status: 200,
      reason: `unreadable version "${number}"`,
      url,
    });
  }
  return { flavour, version: number, major: Number(match[1]), minor: Number(match[2]) };
}

/** Elasticsearch 7.14 added `sort`, `order`, `size` and `after` to the snapshot listing. */
function supportsPaging(info: EsInfo): boolean {
  return info.flavour === "elasticsearch" &&
    (info.major > 7 || (info.major === 7 && info.minor >= 14));
}

function byStartTime(a: SnapshotInfo, b: SnapshotInfo): number {
  return a.start_time_in_millis - b.start_time_in_millis || a.snapshot.localeCompare(b.snapshot);
}

function snapshotsOf(body: unknown): SnapshotInfo[] {
  if (!isRecord(body) || !Array.isArray(body.snapshots)) return [];
  return body.snapshots.map(toSnapshotInfo).filter((info) => info !== undefined);
}

function errorType(answer: HttpAnswer): string | undefined {
  return parseErrorBody(answer.body)?.type;
}

/** Repository and index names go into the path: refuse what would change its meaning. */
function encodeName(name: string, what: "repository" | "index"): string {
  if (
    typeof name !== "string" || name === "" || name === "." || name === ".." || name.startsWith("_")
  ) {
    throw new RangeError(
      `Invalid ${what} name "${name}": must not be empty, "." or "..", nor start with "_"`,
    );
  }
  if (/[\s,/\\]/.test(name)) {
    throw new RangeError(
      `Invalid ${what} name "${name}": must not contain whitespace, ",", "/" or "\\"`,
    );
  }
  return encodeURIComponent(name).replaceAll("%2A", "*");
}

/** Reads, waits for and deletes take resolved names only: date math resolves when creating. */
function validatePlainName(name: string): void {
  validateSnapshotName(name);
  if (isDateMathName(name)) {
    throw new RangeError(
      `Invalid snapshot name "${name}": date math resolves only when creating; ` +
        "use the name the server gave back",
    );
  }
}

function checkMetadata(metadata: Record<string, unknown> | undefined): void {
  if (metadata === undefined) return;
  const bytes = new TextEncoder().encode(JSON.stringify(metadata)).length;
  if (bytes > METADATA_MAX_BYTES) {
    throw new RangeError(
      `Snapshot metadata is ${bytes} bytes of JSON: the server takes at most ${METADATA_MAX_BYTES}`,
    );
  }
}

function repositoryDifferences(existing: RepositorySpec, wanted: RepositorySpec): string[] {
  const out: string[] = [];
  if (existing.type !== wanted.type) {
    out.push(`type: "${existing.type}" on the server, "${wanted.type}" wanted`);
  }
  const have = flatten(existing.settings);
  for (const [key, value] of Object.entries(flatten(wanted.settings))) {
    const current = have[key];
    if (current !== value) {
      const shown = current === undefined ? "unset" : `"${current}"`;
      out.push(`${key}: ${shown} on the server, "${value}" wanted`);
    }
  }
  return out;
}

/** Settings as the server reports them: dotted keys, string values. */
function flatten(settings: Record<string, unknown>, prefix = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(settings)) {
    if (value === undefined || value === null) continue;
    if (isRecord(value)) Object.assign(out, flatten(value, `${prefix}${key}.`));
    else {out[`${prefix}${key}`] = Array.isArray(value)
        ? value.map(String).join(",")
        : String(value);}
  }
  return out;
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `Invalid Elasticsearch client option "${name}": ${value} (expected a positive number)`,
    );
  }
  return value;
}

function signalOf(options: { signal?: AbortSignal | undefined }): { signal?: AbortSignal } {
  return options.signal === undefined ? {} : { signal: options.signal };
}

function pickDefined<T extends Record<string, unknown>>(
  value: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

function definedOnly<T extends object>(body: T): Partial<T> {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as Partial<T>;
}
