// LeaderElection's timing rules against an in-memory etcd on a FakeClock: no sockets, and every
// step-down and takeover lands on the exact millisecond the rules say.
import assert from "node:assert/strict";
import { type Clock, FakeClock, settle, sleep } from "../runner/mod.ts";
import {
  electionWithBackend,
  type KeyHolder,
  LeaderElection,
  type LeaderElectionOptions,
  type LeaseBackend,
  leaseTiming,
  LeaseWindow,
  type Role,
} from "./_lease.ts";
import { EtcdError } from "./_errors.ts";

const KEY = "/snapcron/leader/test";
const TTL = 3;
const timing = leaseTiming(TTL);

/** etcd's lease and key semantics, in memory, expiring leases on the fake clock. */
class FakeEtcd {
  readonly clock: FakeClock;
  readonly #leases = new Map<string, { ttlMs: number; expiresAt: number }>();
  readonly #keys = new Map<string, KeyHolder>();
  #nextLease = 7_000_000_000_000_000_001n;

  constructor(clock: FakeClock) {
    this.clock = clock;
  }

  /** A replica's connection; `cut` makes its requests hang until they time out. */
  replica(): FakeReplica {
    return new FakeReplica(this);
  }

  holder(key: string): KeyHolder | undefined {
    this.expire();
    return this.#keys.get(key);
  }

  leaseAlive(lease: string): boolean {
    this.expire();
    return this.#leases.has(lease);
  }

  /** Writes the key as an operator would: no lease. */
  put(key: string, value: string): void {
    this.#keys.set(key, { value, lease: "0" });
  }

  delete(key: string): void {
    this.#keys.delete(key);
  }

  grant(ttlSeconds: number): { id: string; ttlSeconds: number } {
    const id = String(this.#nextLease++);
    const ttlMs = ttlSeconds * 1000;
    this.#leases.set(id, { ttlMs, expiresAt: this.#now() + ttlMs });
    return { id, ttlSeconds };
  }

  keepAlive(lease: string): number {
    this.expire();
    const entry = this.#leases.get(lease);
    if (entry === undefined) return 0;
    entry.expiresAt = this.#now() + entry.ttlMs;
    return entry.ttlMs / 1000;
  }

  claim(key: string, value: string, lease: string): KeyHolder {
    this.expire();
    if (!this.#leases.has(lease)) {
      throw new EtcdError("etcdserver: requested lease not found", { code: "NotFound" });
    }
    const holder = this.#keys.get(key);
    if (holder !== undefined) return holder;
    this.#keys.set(key, { value, lease });
    return { value, lease };
  }

  revoke(lease: string): void {
    this.#leases.delete(lease);
    for (const [key, holder] of this.#keys) if (holder.lease === lease) this.#keys.delete(key);
  }

  expire(): void {
    const now = this.#now();
    for (const [id, { expiresAt }] of this.#leases) if (expiresAt <= now) this.revoke(id);
  }

  #now(): number {
    return this.clock.now().getTime();
  }
}

class FakeReplica implements LeaseBackend {
  readonly #etcd: FakeEtcd;
  cut = false;
  closed = false;
  /** When the last grant or keep-alive that reached etcd was handled. */
  lastRenewal = -Infinity;
  /** When the last read that reached etcd was handled. */
  lastRead = -Infinity;

  constructor(etcd: FakeEtcd) {
    this.#etcd = etcd;
  }

  async grant(ttlSeconds: number, signal?: AbortSignal) {
    await this.#reach(signal);
    this.lastRenewal = this.#etcd.clock.now().getTime();
    return this.#etcd.grant(ttlSeconds);
  }

  async keepAlive(lease: string, signal?: AbortSignal) {
    await this.#reach(signal);
    const ttl = this.#etcd.keepAlive(lease);
    if (ttl > 0) this.lastRenewal = this.#etcd.clock.now().getTime();
    return ttl;
  }

  async read(key: string, signal?: AbortSignal) {
    await this.#reach(signal);
    this.lastRead = this.#etcd.clock.now().getTime();
    return this.#etcd.holder(key);
  }

  async claim(key: string, value: string, lease: string, signal?: AbortSignal) {
    await this.#reach(signal);
    return this.#etcd.claim(key, value, lease);
  }

  async revoke(lease: string, signal?: AbortSignal) {
    await this.#reach(signal);
    this.#etcd.revoke(lease);
  }

  close(): void {
    this.closed = true;
  }

  async #reach(signal: AbortSignal | undefined): Promise<void> {
    if (this.closed) throw new Error("backend used after close");
    if (!this.cut) return;
    await sleep(this.#etcd.clock, timing.requestTimeoutMs, signal);
    throw new EtcdError("no answer within 500 ms", { code: "DeadlineExceeded" });
  }
}

interface Replica {
  name: string;
  election: LeaderElection;
  backend: FakeReplica;
  /** Every change, with the fake time it happened at. */
  changes: { at: number; role: Role; leader: string | undefined }[];
}

function replica(etcd: FakeEtcd, name: string, clock: Clock = etcd.clock): Replica {
  const backend = etcd.replica();
  const options: LeaderElectionOptions = {
    endpoints: ["http://127.0.0.1:1"],
    key: KEY,
    identity: name,
    ttlSeconds: TTL,
    clock,
  };
  const election = electionWithBackend(options, backend);
  const changes: Replica["changes"] = [];
  election.onChange((role, leader) => {
    changes.push({ at: clock.now().getTime(), role, leader });
  });
  return { name, election, backend, changes };
}

/**
 * Advances fake time in steps, asserting at each that at most one replica leads (the change logs
 * give the exact check, {@linkcode assertNoOverlap}).
 */
async function runFor(
  clock: FakeClock,
  ms: number,
  replicas: Replica[],
  stepMs = 100,
): Promise<void> {
  for (let elapsed = 0; elapsed < ms; elapsed += stepMs) {
    await clock.advance(Math.min(stepMs, ms - elapsed));
    const leaders = replicas.filter((r) => r.election.role === "leader").map((r) => r.name);
    assert.ok(leaders.length <= 1, `two leaders at ${clock.now().toISOString()}: ${leaders}`);
  }
}

/** Checks from the change logs that no two leaderships overlapped, to the millisecond. */
function assertNoOverlap(replicas: Replica[], end: number): void {
  const spans: { name: string; from: number; to: number }[] = [];
  for (const { name, changes } of replicas) {
    let from: number | undefined;
    for (const change of changes) {
      if (change.role === "leader" && from === undefined) from = change.at;
      if (change.role !== "leader" && from !== undefined) {
        spans.push({ name, from, to: change.at });
        from = undefined;
      }
    }
    if (from !== undefined) spans.push({ name, from, to: end });
  }
  spans.sort((a, b) => a.from - b.from);
  for (let index = 1; index < spans.length; index++) {
    const [before, after] = [spans[index - 1]!, spans[index]!];
    assert.ok(
      before.to <= after.from,
      `${before.name} led until ${before.to}, ${after.name} from ${after.from}`,
    );
  }
}

function leaderOf(replicas: Replica[]): Replica {
  const leaders = replicas.filter((r) => r.election.role === "leader");
  assert.equal(leaders.length, 1, `expected one leader, got ${leaders.map((r) => r.name)}`);
  return leaders[0]!;
}

async function closeAll(replicas: Replica[]): Promise<void> {
  await Promise.all(replicas.map((r) => r.election.close()));
}

Deno.test("leaseTiming() renews every TTL/3 and steps down a third of the TTL before expiry", () => {
  assert.deepEqual(leaseTiming(15), {
    ttlMs: 15_000,
    renewMs: 5_000,
    marginMs: 5_000,
    pollMs: 1_000,
    retryMs: 500,
    requestTimeoutMs: 2_500,
    loginTimeoutMs: 5_000,
  });
  assert.deepEqual(leaseTiming(3), {
    ttlMs: 3_000,
    renewMs: 1_000,
    marginMs: 1_000,
    pollMs: 1_000,
    retryMs: 250,
    requestTimeoutMs: 500,
    loginTimeoutMs: 3_000,
  });
  assert.equal(leaseTiming(60).requestTimeoutMs, 5_000);
  for (const bad of [0, 1, 1.5, -3, Number.NaN, Infinity]) {
    assert.throws(() => leaseTiming(bad), RangeError);
  }
  assert.throws(
    () => leaseTiming(1),
    /"ttlSeconds": expected a whole number of seconds of at least 2, got 1/,
  );
});

Deno.test("LeaseWindow counts from the send time, never shrinks, and trusts the smaller TTL", () => {
  const window = new LeaseWindow(timing);
  assert.equal(window.allows(0), false);
  // Sent at 1000: etcd restarted the TTL at or after 1000, so the lease lives to 4000 at least.
  window.confirm(1_000, 3);
  assert.equal(window.until, 3_000);
  assert.equal(window.allows(2_999), true);
  assert.equal(window.allows(3_000), false);
  // An older renewal answered late does not pull the deadline back.
  window.confirm(500, 3);
  assert.equal(window.until, 3_000);
  // etcd raising the TTL to its minimum does not stretch our window.
  window.confirm(2_000, 10);
  assert.equal(window.until, 4_000);
  window.reset();
  assert.equal(window.allows(0), false);
});

Deno.test("LeaderElection checks its options", () => {
  const etcd = new FakeEtcd(new FakeClock("2026-01-01T00:00:00Z"));
  const base = { endpoints: ["http://127.0.0.1:1"], key: KEY, identity: "a" };
  assert.throws(() => electionWithBackend({ ...base, key: "" }, etcd.replica()), TypeError);
  assert.throws(() => electionWithBackend({ ...base, identity: "" }, etcd.replica()), TypeError);
  assert.throws(
    () => electionWithBackend({ ...base, ttlSeconds: 1 }, etcd.replica()),
    RangeError,
  );
  assert.throws(() => new LeaderElection({ ...base, endpoints: [] }), TypeError);
  assert.throws(() => new LeaderElection({ ...base, endpoints: ["ftp://x"] }), TypeError);
});

Deno.test("LeaderElection: two replicas, one leads and the other follows it, steadily", async () => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");
  const etcd = new FakeEtcd(clock);
  const replicas = [replica(etcd, "a"), replica(etcd, "b")];
  try {
    assert.equal(replicas[0]!.election.role, "unknown");
    for (const r of replicas) r.election.start();
    await runFor(clock, 100, replicas);
    const leader = leaderOf(replicas);
    const follower = replicas.find((r) => r !== leader)!;
    assert.equal(leader.election.leader, leader.name);
    assert.equal(follower.election.role, "follower");
    assert.equal(follower.election.leader, leader.name);
    assert.equal(etcd.holder(KEY)?.value, leader.name);
    // Many renewals later nothing changed.
    await runFor(clock, 20_000, replicas, 500);
    assert.equal(leader.changes.length, 1);
    assert.equal(follower.changes.length, 1);
    assert.equal(leader.election.role, "leader");
  } finally {
    await closeAll(replicas);
  }
});

Deno.test("LeaderElection: a cut-off leader steps down at last renewal + 2/3 TTL, before its lease expires", async () => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");
  const etcd = new FakeEtcd(clock);
  const replicas = [replica(etcd, "a"), replica(etcd, "b"), replica(etcd, "c")];
  try {
    for (const r of replicas) r.election.start();
    await runFor(clock, 5_000, replicas);
    const old = leaderOf(replicas);
    const lease = etcd.holder(KEY)!.lease;
    await clock.advance(300); // Somewhere between two renewals.
    old.backend.cut = true;
    let steppedDownAt: number | undefined;
    let leaseAliveThen = false;
    old.election.onChange((role) => {
      if (role !== "unknown" || steppedDownAt !== undefined) return;
      steppedDownAt = clock.now().getTime();
      leaseAliveThen = etcd.leaseAlive(lease);
    });
    const renewedAt = old.backend.lastRenewal;
    await runFor(clock, 5_000, replicas);
    assert.equal(steppedDownAt, renewedAt + timing.ttlMs - timing.marginMs);
    assert.ok(leaseAliveThen, "the lease had already expired when the leader stepped down");
    const next = leaderOf(replicas);
    assert.notEqual(next, old);
    const tookOverAt = next.changes.find((c) => c.role === "leader")!.at;
    // etcd expires the lease at renewedAt + TTL; a follower notices within one poll.
    assert.ok(tookOverAt >= renewedAt + timing.ttlMs, `took over at ${tookOverAt - renewedAt}`);
    assert.ok(tookOverAt <= renewedAt + timing.ttlMs + timing.pollMs + 100);
    assert.equal(old.election.role, "unknown");
    assert.equal(old.election.leader, undefined);
    const third = replicas.find((r) => r !== old && r !== next)!;
    assert.equal(third.election.leader, next.name);
    assertNoOverlap(replicas, clock.now().getTime());

    // Back on the network, the old leader follows the new one.
    old.backend.cut = false;
    await runFor(clock, 2_000, replicas);
    assert.equal(old.election.role, "follower");
    assert.equal(old.election.leader, next.name);
    assert.equal(leaderOf(replicas), next);
    assertNoOverlap(replicas, clock.now().getTime());
  } finally {
    await closeAll(replicas);
  }
});

Deno.test("LeaderElection: a leader back before its lease expired leads again on the same lease", async () => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");
  const etcd = new FakeEtcd(clock);
  const replicas = [replica(etcd, "a"), replica(etcd, "b")];
  try {
    for (const r of replicas) r.election.start();
    await runFor(clock, 1_000, replicas);
    const leader = leaderOf(replicas);
    const follower = replicas.find((r) => r !== leader)!;
    const lease = etcd.holder(KEY)!.lease;
    leader.backend.cut = true;
    const renewedAt = leader.backend.lastRenewal;
    // Past the step-down deadline, short of the expiry.
    await runFor(clock, renewedAt + 2_300 - clock.now().getTime(), replicas);
    assert.equal(leader.election.role, "unknown");
    leader.backend.cut = false;
    await runFor(clock, 1_000, replicas);
    assert.equal(leader.election.role, "leader");
    assert.equal(etcd.holder(KEY)?.lease, lease);
    assert.deepEqual(leader.changes.map((c) => c.role), ["leader", "unknown", "leader"]);
    assert.deepEqual(follower.changes.map((c) => c.role), ["follower"]);
  } finally {
    await closeAll(replicas);
  }
});

Deno.test("LeaderElection: with etcd gone everyone is unknown; when it returns one leads again", async () => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");
  const etcd = new FakeEtcd(clock);
  const replicas = [replica(etcd, "a"), replica(etcd, "b")];
  try {
    for (const r of replicas) r.election.start();
    await runFor(clock, 1_000, replicas);
    for (const r of replicas) r.backend.cut = true;
    await runFor(clock, 6_000, replicas, 200);
    for (const r of replicas) {
      assert.equal(r.election.role, "unknown");
      assert.equal(r.election.leader, undefined);
    }
    for (const r of replicas) r.backend.cut = false;
    await runFor(clock, 3_000, replicas);
    const leader = leaderOf(replicas);
    assert.equal(replicas.find((r) => r !== leader)!.election.leader, leader.name);
    assertNoOverlap(replicas, clock.now().getTime());
  } finally {
    await closeAll(replicas);
  }
});

Deno.test("LeaderElection: a follower rides out a short blip and is unknown one TTL after its last read", async () => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");
  const etcd = new FakeEtcd(clock);
  const replicas = [replica(etcd, "a"), replica(etcd, "b")];
  try {
    for (const r of replicas) r.election.start();
    await runFor(clock, 1_000, replicas);
    const follower = replicas.find((r) => r.election.role === "follower")!;
    follower.backend.cut = true;
    await runFor(clock, 2_200, replicas);
    follower.backend.cut = false;
    await runFor(clock, 1_000, replicas);
    assert.deepEqual(follower.changes.map((c) => c.role), ["follower"]);
    follower.backend.cut = true;
    const readAt = follower.backend.lastRead;
    await runFor(clock, 4_000, replicas);
    assert.deepEqual(follower.changes.map((c) => c.role), ["follower", "unknown"]);
    assert.equal(follower.changes[1]!.at, readAt + timing.ttlMs);
    assert.equal(follower.election.leader, undefined);
  } finally {
    await closeAll(replicas);
  }
});

Deno.test("LeaderElection.close() revokes the lease: a follower takes over within one poll", async () => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");
  const etcd = new FakeEtcd(clock);
  const replicas = [replica(etcd, "a"), replica(etcd, "b")];
  try {
    for (const r of replicas) r.election.start();
    await runFor(clock, 1_000, replicas);
    const leader = leaderOf(replicas);
    const follower = replicas.find((r) => r !== leader)!;
    const lease = etcd.holder(KEY)!.lease;
    const closing = leader.election.close();
    // Stops acting before anything is sent.
    assert.equal(leader.election.role, "unknown");
    assert.equal(leader.election.close(), closing);
    await closing;
    assert.equal(etcd.leaseAlive(lease), false);
    assert.equal(etcd.holder(KEY), undefined);
    assert.equal(leader.backend.closed, true);
    const closedAt = clock.now().getTime();
    await runFor(clock, timing.pollMs, replicas.filter((r) => r !== leader));
    assert.equal(follower.election.role, "leader");
    assert.ok(follower.changes.at(-1)!.at - closedAt <= timing.pollMs);
    assert.throws(() => leader.election.start(), /closed/);
  } finally {
    await closeAll(replicas);
  }
});

Deno.test("LeaderElection.close({ release: false }) leaves the key to expire with the lease", async () => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");
  const etcd = new FakeEtcd(clock);
  const replicas = [replica(etcd, "a"), replica(etcd, "b")];
  try {
    for (const r of replicas) r.election.start();
    await runFor(clock, 1_000, replicas);
    const leader = leaderOf(replicas);
    const follower = replicas.find((r) => r !== leader)!;
    const renewedAt = leader.backend.lastRenewal;
    await leader.election.close({ release: false });
    assert.equal(leader.election.role, "unknown");
    assert.equal(etcd.holder(KEY)?.value, leader.name);
    await runFor(clock, 5_000, replicas);
    const tookOverAt = follower.changes.find((c) => c.role === "leader")!.at;
    assert.ok(tookOverAt >= renewedAt + timing.ttlMs);
    assert.ok(tookOverAt <= renewedAt + timing.ttlMs + timing.pollMs);
  } finally {
    await closeAll(replicas);
  }
});

Deno.test("LeaderElection.role reads unknown past the deadline even when no timer fired", async () => {
  // A clock whose sleeps never end: as if the event loop were stuck after the first round.
  let now = Date.parse("2026-01-01T00:00:00Z");
  const stuck: Clock = {
    now: () => new Date(now),
    sleepUntil: (_date, signal) =>
      new Promise((_resolve, reject) => {
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
  };
  const etcd = new FakeEtcd(new FakeClock(new Date(now)));
  const only = replica(etcd, "a", stuck);
  try {
    only.election.start();
    await settle();
    assert.equal(only.election.role, "leader");
    now += timing.ttlMs - timing.marginMs - 1;
    assert.equal(only.election.role, "leader");
    now += 1;
    assert.equal(only.election.role, "unknown");
    assert.deepEqual(only.changes.map((c) => c.role), ["leader", "unknown"]);
  } finally {
    await only.election.close();
  }
});

Deno.test("LeaderElection: a leader whose key is taken follows the taker; a deleted key is re-claimed", async () => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");
  const etcd = new FakeEtcd(clock);
  const only = replica(etcd, "a");
  try {
    only.election.start();
    await runFor(clock, 100, [only]);
    const lease = etcd.holder(KEY)!.lease;
    // Deleted (by an operator): the leader puts it back on its lease, without stepping down.
    etcd.delete(KEY);
    await runFor(clock, timing.renewMs, [only]);
    assert.deepEqual(etcd.holder(KEY), { value: "a", lease });
    assert.deepEqual(only.changes.map((c) => c.role), ["leader"]);
    // Overwritten: the leader follows whoever wrote it and gives up its lease.
    etcd.delete(KEY);
    etcd.put(KEY, "operator");
    await runFor(clock, timing.renewMs, [only]);
    assert.equal(only.election.role, "follower");
    assert.equal(only.election.leader, "operator");
    assert.equal(etcd.leaseAlive(lease), false);
  } finally {
    await only.election.close();
  }
});

Deno.test("LeaderElection survives a throwing listener and unsubscribes", async () => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");
  const etcd = new FakeEtcd(clock);
  const only = replica(etcd, "a");
  const seen: Role[] = [];
  only.election.onChange(() => {
    throw new Error("listener bug");
  });
  const unsubscribe = only.election.onChange((role) => seen.push(role));
  try {
    only.election.start();
    await runFor(clock, 100, [only]);
    unsubscribe();
    await only.election.close();
    assert.deepEqual(seen, ["leader"]);
    assert.deepEqual(only.changes.map((c) => c.role), ["leader", "unknown"]);
  } finally {
    await only.election.close();
  }
});
