/**
 * Leader election through an etcd lease, for running several snapcron replicas of which only the
 * leader schedules. The leader holds `key` (value: its identity) attached to a lease it renews
 * every TTL/3; the others poll the key and campaign when it is gone. A leader stops acting when
 * its last confirmed renewal is older than TTL minus a margin, so it has stepped down before etcd
 * can expire its lease and hand the key to someone else.
 */
import { type Logger, silentLogger } from "../log/mod.ts";
import { type Clock, delay, sleep } from "../runner/mod.ts";
import {
  type ClientInternals,
  clientInternals,
  EtcdClient,
  type EtcdClientOptions,
} from "./_client.ts";
import { EtcdError, failoverReason } from "./_errors.ts";

/** Options of {@linkcode LeaderElection}: etcd's connection as for `EtcdClient`, and the lease. */
export interface LeaderElectionOptions extends
  Pick<
    EtcdClientOptions,
    "endpoints" | "username" | "password" | "caFile" | "certFile" | "keyFile"
  > {
  /** The key the leader holds, e.g. `/snapcron/leader/<cluster-name>`. */
  key: string;
  /** This replica, e.g. `host-1/pid-42`; stored as the key's value. */
  identity: string;
  /** Lease TTL in whole seconds, at least 2; defaults to 15. */
  ttlSeconds?: number;
  log?: Logger;
  /** Time for renewals, polls, retries and the step-down deadline; defaults to a monotonic clock. */
  clock?: Clock;
}

/** What this replica may do: schedule (`leader`), stand by (`follower`), or not know. */
export type Role = "leader" | "follower" | "unknown";

/** Options of {@linkcode LeaderElection.close}. */
export interface LeaderElectionCloseOptions {
  /**
   * Revoke the lease, and so delete the key, for a standby to take over at once. Defaults to
   * true; false leaves the key to expire with the lease, as a crashed replica would.
   */
  release?: boolean;
}

/** The timing rules derived from a lease TTL, in milliseconds. */
export interface LeaseTiming {
  ttlMs: number;
  /** A leader renews (keep-alive, then checks that the key is still its own) this often. */
  renewMs: number;
  /**
   * A leader stops acting this long before its lease could expire, counted from the moment it
   * sent its last confirmed renewal. Equal to `renewMs`: one missed renewal is retried, two
   * step down, and the remaining third of the TTL dwarfs clock drift and late timers.
   */
  marginMs: number;
  /** A follower reads the key this often. */
  pollMs: number;
  /** First pause after a failed round; a leader keeps to it, others back off to `renewMs`. */
  retryMs: number;
  /** Per request and endpoint: short enough for several tries before the step-down deadline. */
  requestTimeoutMs: number;
  /**
   * Per login: etcd checks passwords with bcrypt, which a busy server takes long over; a login
   * cut off by the request timeout would only be retried (burning more CPU) and never get through.
   */
  loginTimeoutMs: number;
}

const DEFAULT_TTL_SECONDS = 15;
/** A leader's watchdog re-checks at least this often, so a stopped monotonic clock is caught. */
const WATCHDOG_MS = 1_000;
/** Longest single timer of the monotonic clock. */
const MAX_TIMER_MS = 10_000;

/** The timing rules for a lease of `ttlSeconds`; throws `RangeError` below 2 s or off whole seconds. */
export function leaseTiming(ttlSeconds: number): LeaseTiming {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 2) {
    throw new RangeError(
      `Invalid leader election option "ttlSeconds": expected a whole number of seconds of at least 2, got ${ttlSeconds}`,
    );
  }
  const ttlMs = ttlSeconds * 1000;
  const renewMs = Math.floor(ttlMs / 3);
  const requestTimeoutMs = Math.min(Math.max(Math.floor(renewMs / 2), 250), 5_000);
  return {
    ttlMs,
    renewMs,
    marginMs: renewMs,
    pollMs: Math.min(renewMs, 1_000),
    retryMs: Math.min(Math.floor(renewMs / 4), 500),
    requestTimeoutMs,
    loginTimeoutMs: Math.max(requestTimeoutMs, Math.min(ttlMs, 5_000)),
  };
}

/**
 * Until when a leader may act on its lease. etcd restarts the TTL when it handles a grant or
 * keep-alive, which is after we sent it: counting from the send time (never from the answer)
 * keeps a slow answer from stretching the window past the real expiry.
 */
export class LeaseWindow {
  readonly #timing: LeaseTiming;
  #until = -Infinity;

  constructor(timing: LeaseTiming) {
    this.#timing = timing;
  }

  /** A grant or keep-alive sent at `sentAt` (ms) was answered with `grantedSeconds` to live. */
  confirm(sentAt: number, grantedSeconds: number): void {
    // etcd may raise a short TTL to its minimum, never lower it: trust the smaller.
    const ttlMs = Math.min(this.#timing.ttlMs, grantedSeconds * 1000);
    this.#until = Math.max(this.#until, sentAt + ttlMs - this.#timing.marginMs);
  }

  /** The instant (ms) from which a leader must no longer act; `-Infinity` before any renewal. */
  get until(): number {
    return this.#until;
  }

  /** True while a leader may act. */
  allows(now: number): boolean {
    return now < this.#until;
  }

  /** Forgets the lease. */
  reset(): void {
    this.#until = -Infinity;
  }
}

/** Who holds the key: its value and its lease (`"0"` for a key without one). */
export interface KeyHolder {
  value: string;
  lease: string;
}

/** The etcd calls an election makes; the JSON gateway in production, a fake in unit tests. */
export interface LeaseBackend {
  /** Grants a lease; answers its ID and the TTL etcd granted. */
  grant(ttlSeconds: number, signal?: AbortSignal): Promise<{ id: string; ttlSeconds: number }>;
  /** Renews a lease; answers its new TTL, 0 when the lease is gone. */
  keepAlive(lease: string, signal?: AbortSignal): Promise<number>;
  /** The key's holder, `undefined` when there is no key. */
  read(key: string, signal?: AbortSignal): Promise<KeyHolder | undefined>;
  /** Creates the key with `value` under `lease` unless it exists; answers the holder after. */
  claim(key: string, value: string, lease: string, signal?: AbortSignal): Promise<KeyHolder>;
  /** Revokes a lease (deleting its keys); a lease already gone is no error. */
  revoke(lease: string, signal?: AbortSignal): Promise<void>;
  close(): void;
}

/**
 * Leader election over an etcd lease: `start()` campaigns in the background, `role` and
 * `onChange` tell whether this replica may schedule, `close()` hands leadership over.
 */
export class LeaderElection {
  readonly #key: string;
  readonly #identity: string;
  readonly #timing: LeaseTiming;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #backend: LeaseBackend;
  readonly #window: LeaseWindow;
  /** With the default (monotonic) clock: the same rule on the wall clock, which keeps running
   * while a host is suspended, when the monotonic clock stops. */
  readonly #wallWindow: LeaseWindow | undefined;
  /**
   * A follower's view of who leads lasts one TTL from the read that showed it (the longest that
   * leader can last without renewing), then it is unknown.
   */
  readonly #view: LeaseWindow;
  readonly #listeners = new Set<(role: Role, leader: string | undefined) => void>();
  readonly #stop = new AbortController();
  #role: Role = "unknown";
  #leader: string | undefined;
  /** The lease this replica holds (as leader, or while campaigning or recovering). */
  #lease: string | undefined;
  #watchdog: AbortController | undefined;
  #running: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;

  /** Checks the options; nothing is sent before `start()`. */
  constructor(options: LeaderElectionOptions) {
    if (typeof options.key !== "string" || options.key === "") {
      throw new TypeError(
        `Invalid leader election option "key": expected a non-empty string such as "/snapcron/leader/main"`,
      );
    }
    if (typeof options.identity !== "string" || options.identity === "") {
      throw new TypeError(
        `Invalid leader election option "identity": expected a non-empty string such as "host-1/pid-42"`,
      );
    }
    this.#key = options.key;
    this.#identity = options.identity;
    this.#timing = leaseTiming(options.ttlSeconds ?? DEFAULT_TTL_SECONDS);
    this.#log = (options.log ?? silentLogger()).with({ electionKey: options.key });
    this.#clock = options.clock ?? monotonicClock;
    this.#window = new LeaseWindow(this.#timing);
    this.#wallWindow = options.clock === undefined ? new LeaseWindow(this.#timing) : undefined;
    this.#view = new LeaseWindow({ ...this.#timing, marginMs: 0 });
    this.#backend = injectedBackend ?? new GatewayLeases(options, this.#timing, this.#log);
  }

  /** Begins campaigning in the background; a second call does nothing. */
  start(): void {
    if (this.#closed) throw new Error("Cannot start the leader election: it is closed");
    this.#running ??= this.#run(this.#stop.signal);
  }

  /** This replica's current role; a leader whose renewal deadline passed reads `unknown`. */
  get role(): Role {
    this.#checkDeadline();
    return this.#role;
  }

  /** The identity of the current leader, when known (this replica's own when it leads). */
  get leader(): string | undefined {
    this.#checkDeadline();
    return this.#leader;
  }

  /** Calls `listener` on each change of role or leader; returns a function that unsubscribes. */
  onChange(listener: (role: Role, leader: string | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Stops campaigning and reads `unknown` at once; a leader then revokes its lease, which
   * deletes the key so a standby takes over within its poll interval. Safe twice.
   */
  close(options: LeaderElectionCloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.release ?? true);
    return this.#closing;
  }

  async #shutdown(release: boolean): Promise<void> {
    // Stop acting first: whoever takes over may do so as soon as the lease is revoked.
    this.#update("unknown", undefined, "closed");
    this.#closed = true;
    this.#stop.abort();
    this.#watchdog?.abort();
    await this.#running;
    const lease = this.#lease;
    this.#lease = undefined;
    try {
      if (release && lease !== undefined) {
        await this.#backend.revoke(lease);
        this.#log.info("Leader election closed; lease revoked", { lease });
      }
    } catch (error) {
      this.#log.warn("Cannot revoke the leader lease; the key expires with it", {
        lease,
        error: describe(error),
      });
    } finally {
      this.#backend.close();
    }
  }

  async #run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let waitMs: number;
      try {
        waitMs = await this.#round(signal);
        if (failures > 0) this.#log.info("etcd answers again", { failures });
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        waitMs = this.#failed(error, failures);
      }
      try {
        await sleep(this.#clock, waitMs, signal);
      } catch {
        break;
      }
    }
  }

  /** One round: renew our lease if we hold one, look at the key, campaign when it is free. */
  async #round(signal: AbortSignal): Promise<number> {
    let renewal: { sentAt: number; wallAt: number; seconds: number } | undefined;
    const held = this.#lease;
    if (held !== undefined) {
      const sentAt = this.#now();
      const wallAt = Date.now();
      const seconds = await this.#backend.keepAlive(held, signal);
      if (seconds > 0) renewal = { sentAt, wallAt, seconds };
      else this.#leaseGone("the lease expired");
    }
    const readAt = this.#now();
    let holder = await this.#backend.read(this.#key, signal);
    if (holder === undefined) {
      if (this.#lease === undefined) {
        const sentAt = this.#now();
        const wallAt = Date.now();
        const granted = await this.#backend.grant(this.#timing.ttlMs / 1000, signal);
        this.#lease = granted.id;
        renewal = { sentAt, wallAt, seconds: granted.ttlSeconds };
      }
      try {
        holder = await this.#backend.claim(this.#key, this.#identity, this.#lease, signal);
      } catch (error) {
        if (error instanceof EtcdError && error.code === "NotFound") {
          this.#leaseGone("the lease expired while campaigning");
        }
        throw error;
      }
    }
    const lease = this.#lease;
    if (lease !== undefined && holder.lease === lease && renewal !== undefined) {
      // The key is ours and the lease was alive when this renewal was sent.
      this.#window.confirm(renewal.sentAt, renewal.seconds);
      this.#wallWindow?.confirm(renewal.wallAt, renewal.seconds);
      if (!this.#mayAct()) {
        // The answers came too late to count: renew again at once rather than lead on them.
        this.#checkDeadline();
        return 0;
      }
      if (this.#role !== "leader") {
        this.#update("leader", this.#identity, held === lease ? "lease still held" : "key won");
      } else {
        this.#armWatchdog();
      }
      return Math.max(0, renewal.sentAt + this.#timing.renewMs - this.#now());
    }
    // Someone else holds the key. Step down (when leading) before letting go of our lease: it
    // serves nothing now (a lost campaign, or leadership lost to a deleted key).
    this.#view.confirm(readAt, this.#timing.ttlMs / 1000);
    this.#update("follower", holder.value, "key held by another replica");
    if (lease !== undefined) {
      this.#lease = undefined;
      this.#resetWindows();
      await this.#backend.revoke(lease, signal).catch((error) => {
        if (!signal.aborted) {
          this.#log.debug("Cannot revoke an unused lease; it expires", {
            lease,
            error: describe(error),
          });
        }
      });
    }
    return this.#timing.pollMs;
  }

  /** After a failed round: the pause before the next. Roles stand until their deadlines. */
  #failed(error: unknown, failures: number): number {
    const fields = { failures, error: describe(error) };
    if (failures === 1) this.#log.warn("Cannot reach etcd for the leader election", fields);
    else this.#log.debug("Cannot reach etcd for the leader election", fields);
    if (this.#lease !== undefined) return this.#timing.retryMs;
    return Math.min(this.#timing.retryMs * 2 ** (failures - 1), this.#timing.renewMs);
  }

  #leaseGone(reason: string): void {
    this.#lease = undefined;
    this.#resetWindows();
    if (this.#role === "leader") this.#update("unknown", undefined, reason);
  }

  #resetWindows(): void {
    this.#window.reset();
    this.#wallWindow?.reset();
  }

  #mayAct(): boolean {
    return this.#window.allows(this.#now()) && (this.#wallWindow?.allows(Date.now()) ?? true);
  }

  /**
   * Steps a leader down once its window closed, whether or not a timer noticed yet; a follower
   * that has not seen the key for as long no longer knows who leads.
   */
  #checkDeadline(): void {
    if (this.#role === "follower" && !this.#view.allows(this.#now())) {
      this.#update("unknown", undefined, "etcd unreachable");
    }
    if (this.#role !== "leader" || this.#mayAct()) return;
    this.#log.warn("Stepping down: the leader lease was not renewed in time", {
      lease: this.#lease,
      ttlSeconds: this.#timing.ttlMs / 1000,
    });
    this.#update("unknown", undefined, "renewal overdue");
  }

  /** Wakes at the deadline of the current role (and at least every second) to enforce it. */
  #armWatchdog(): void {
    this.#watchdog?.abort();
    this.#watchdog = undefined;
    if (this.#role === "unknown" || this.#closed) return;
    const watchdog = new AbortController();
    this.#watchdog = watchdog;
    const until = this.#role === "leader" ? this.#window.until : this.#view.until;
    const wake = Math.min(until, this.#now() + WATCHDOG_MS);
    this.#clock.sleepUntil(new Date(wake), watchdog.signal).then(() => {
      if (watchdog.signal.aborted) return;
      this.#checkDeadline();
      this.#armWatchdog();
    }, () => {});
  }

  #update(role: Role, leader: string | undefined, reason: string): void {
    if (this.#closed || (role === this.#role && leader === this.#leader)) return;
    const was = this.#role;
    this.#role = role;
    this.#leader = leader;
    this.#armWatchdog();
    const fields = { role, leader, identity: this.#identity, reason };
    if (role === "leader") this.#log.info("Leading: this replica schedules", fields);
    else if (was === "leader" && reason !== "closed") {
      this.#log.warn("No longer leading: this replica stops scheduling", fields);
    } else this.#log.info("Leader election role changed", fields);
    for (const listener of [...this.#listeners]) {
      try {
        listener(role, leader);
      } catch (error) {
        this.#log.error("A leader election listener failed", { error: describe(error) });
      }
    }
  }

  #now(): number {
    return this.#clock.now().getTime();
  }
}

let injectedBackend: LeaseBackend | undefined;

/** For this folder's tests: an election that talks to `backend` instead of etcd. */
export function electionWithBackend(
  options: LeaderElectionOptions,
  backend: LeaseBackend,
): LeaderElection {
  injectedBackend = backend;
  try {
    return new LeaderElection(options);
  } finally {
    injectedBackend = undefined;
  }
}

/**
 * The wall clock can be stepped (NTP, an operator); a step back would stretch a leader's window
 * past its lease. `performance.now()` only moves forward, and timers run on it too.
 */
const monotonicClock: Clock = {
  now: () => new Date(performance.timeOrigin + performance.now()),
  async sleepUntil(date: Date, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const remaining = date.getTime() - (performance.timeOrigin + performance.now());
      if (remaining <= 0) return;
      await delay(Math.min(remaining, MAX_TIMER_MS), signal);
    }
  },
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The lease calls over the JSON gateway, through an `EtcdClient`'s auth, TLS and fail over. */
class GatewayLeases implements LeaseBackend {
  readonly #client: EtcdClient;
  readonly #internals: ClientInternals;
  /** The same endpoints with the longer login timeout; only with a username. */
  readonly #loginClient: EtcdClient | undefined;
  /** Tokens per endpoint (`undefined`: none needed): one authentication, not one per call. */
  readonly #tokens = new Map<string, string | undefined>();

  constructor(options: LeaderElectionOptions, timing: LeaseTiming, log: Logger) {
    const shared: EtcdClientOptions = {
      endpoints: options.endpoints,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.caFile === undefined ? {} : { caFile: options.caFile }),
      ...(options.certFile === undefined ? {} : { certFile: options.certFile }),
      ...(options.keyFile === undefined ? {} : { keyFile: options.keyFile }),
      // Each failed round would warn per endpoint; the election warns once per outage.
      log: quieter(log),
    };
    this.#client = new EtcdClient({ ...shared, timeoutMs: timing.requestTimeoutMs });
    this.#internals = clientInternals(this.#client);
    this.#loginClient = options.username === undefined
      ? undefined
      : new EtcdClient({ ...shared, timeoutMs: timing.loginTimeoutMs });
  }

  async grant(
    ttlSeconds: number,
    signal?: AbortSignal,
  ): Promise<{ id: string; ttlSeconds: number }> {
    const what = "grant the leader lease";
    const body = await this.#call("/v3/lease/grant", { TTL: ttlSeconds }, what, signal);
    const id = int64(body.ID);
    const refusal = typeof body.error === "string" && body.error !== "" ? body.error : undefined;
    if (id === "0" || refusal !== undefined) {
      throw new EtcdError(`Cannot ${what}: ${refusal ?? "etcd answered no lease ID"}`);
    }
    return { id, ttlSeconds: Number(int64(body.TTL)) };
  }

  async keepAlive(lease: string, signal?: AbortSignal): Promise<number> {
    const what = "renew the leader lease";
    const body = await this.#call("/v3/lease/keepalive", { ID: lease }, what, signal);
    if (!isObject(body.result)) throw new EtcdError(`Cannot ${what}: etcd answered no result`);
    // TTL is left out when it is 0: the lease expired or was revoked.
    return Number(int64(body.result.TTL));
  }

  async read(key: string, signal?: AbortSignal): Promise<KeyHolder | undefined> {
    const body = await this.#call("/v3/kv/range", { key: b64(key) }, "read the leader key", signal);
    return holderOf(body);
  }

  async claim(key: string, value: string, lease: string, signal?: AbortSignal): Promise<KeyHolder> {
    const what = "claim the leader key";
    const target = b64(key);
    const txn = {
      // create_revision 0: the key does not exist.
      compare: [{ key: target, target: "CREATE", result: "EQUAL", create_revision: "0" }],
      success: [{ request_put: { key: target, value: b64(value), lease } }],
      failure: [{ request_range: { key: target } }],
    };
    const body = await this.#call("/v3/kv/txn", txn, what, signal);
    if (body.succeeded === true) return { value, lease };
    const [first] = Array.isArray(body.responses) ? body.responses : [];
    const holder = isObject(first) ? holderOf(first.response_range) : undefined;
    if (holder === undefined) {
      throw new EtcdError(`Cannot ${what}: etcd neither created the key nor showed its holder`);
    }
    return holder;
  }

  async revoke(lease: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.#call("/v3/lease/revoke", { ID: lease }, "revoke the leader lease", signal);
    } catch (error) {
      if (error instanceof EtcdError && error.code === "NotFound") return;
      throw error;
    }
  }

  close(): void {
    this.#client.close();
    this.#loginClient?.close();
  }

  async #call(
    path: string,
    body: unknown,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, unknown>> {
    return await this.#internals.failover(what, signal, async (endpoint) => {
      const cached = this.#tokens.has(endpoint);
      const token = cached ? this.#tokens.get(endpoint) : await this.#login(endpoint, signal);
      try {
        return await this.#internals.call(endpoint, path, body, token, what, signal);
      } catch (error) {
        // Tokens expire, and die when auth is switched off and on; try once with a fresh one.
        if (!cached || !isStaleToken(error)) throw error;
        this.#tokens.delete(endpoint);
        const fresh = await this.#login(endpoint, signal);
        return await this.#internals.call(endpoint, path, body, fresh, what, signal);
      }
    });
  }

  async #login(endpoint: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    const client = this.#loginClient ?? this.#client;
    const token = await clientInternals(client).authenticate(endpoint, signal);
    this.#tokens.set(endpoint, token);
    return token;
  }
}

function isStaleToken(error: unknown): boolean {
  return error instanceof EtcdError &&
    /invalid auth token|user name is empty/.test(error.message);
}

function holderOf(range: unknown): KeyHolder | undefined {
  if (!isObject(range) || !Array.isArray(range.kvs)) return undefined;
  const [kv] = range.kvs;
  if (!isObject(kv)) return undefined;
  const value = typeof kv.value === "string" ? decoder.decode(Uint8Array.fromBase64(kv.value)) : "";
  return { value, lease: int64(kv.lease) };
}

/** The gateway writes int64 as a decimal string and leaves zeros out; IDs exceed 2^53. */
function int64(value: unknown): string {
  if (typeof value === "string" && /^-?\d+$/.test(value)) return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return "0";
}

function b64(text: string): string {
  return encoder.encode(text).toBase64();
}

/** `log` with the client's per-endpoint warnings turned into debug lines. */
function quieter(log: Logger): Logger {
  return {
    ...log,
    warn: (message, fields) => log.debug(message, fields),
    with: (fields) => quieter(log.with(fields)),
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? failoverReason(error) : String(error);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
