// LeaderElection against real etcd: the shared test server (a key of its own per test) for the
// election itself, a TCP proxy of our own per replica to cut one off the network, and a
// throwaway server with auth for losing etcd entirely. TTL 3 s: renewals every 1 s, a leader
// steps down 2 s after its last renewal, etcd expires the lease after 3 s.
import assert from "node:assert/strict";
import { LeaderElection, type LeaderElectionOptions, type Role } from "../src/etcd/mod.ts";
import {
  b64,
  ctlFlags,
  getValue,
  hasCommand,
  makeCertificates,
  post,
  run,
  startEtcd,
  type TempEtcd,
} from "./_etcd.ts";
import { freePort } from "./_cli.ts";
import { serviceTest, uniqueName } from "./_helpers.ts";

const TTL = 3;
const STEP_DOWN_MS = 2_000;
/** What a leader's lease always has left: leaders step down this long before it could expire. */
const MARGIN_MS = 1_000;
/** etcd checks for expired leases every 500 ms; a follower polls every second. */
const TAKEOVER_MS = TTL * 1000 + 500 + 1_000 + 500;

const OPENSSL = await hasCommand("openssl");

/** A TCP proxy on 127.0.0.1. `cut()` drops its connections and holds new ones silently. */
class Proxy {
  readonly #listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>;
  readonly #conns = new Set<Deno.Conn>();
  readonly #handlers = new Set<Promise<void>>();
  readonly #serving: Promise<void>;
  #target: Deno.ConnectOptions;
  #cut = false;

  constructor(target: string) {
    this.#target = connectOptions(target);
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#serving = this.#serve();
  }

  get url(): string {
    return `http://127.0.0.1:${this.#listener.addr.port}`;
  }

  /** A partition: open connections die, new ones are accepted and never answered. */
  cut(): void {
    this.#cut = true;
    this.#dropAll();
  }

  /** Heals the partition, optionally towards another server. */
  restore(target?: string): void {
    if (target !== undefined) this.#target = connectOptions(target);
    this.#cut = false;
    this.#dropAll();
  }

  async close(): Promise<void> {
    this.#listener.close();
    this.#dropAll();
    await this.#serving;
    await Promise.all(this.#handlers);
  }

  async #serve(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const handler = this.#handle(conn).finally(() => this.#handlers.delete(handler));
        this.#handlers.add(handler);
      }
    } catch {
      // Listener closed.
    }
  }

  async #handle(client: Deno.Conn): Promise<void> {
    this.#conns.add(client);
    if (this.#cut) return; // Held until restore() or close().
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect(this.#target);
    } catch {
      this.#drop(client);
      return;
    }
    this.#conns.add(upstream);
    const options = { preventClose: true, preventAbort: true, preventCancel: true };
    await Promise.race([
      client.readable.pipeTo(upstream.writable, options).catch(() => {}),
      upstream.readable.pipeTo(client.writable, options).catch(() => {}),
    ]);
    this.#drop(client);
    this.#drop(upstream);
  }

  #dropAll(): void {
    for (const conn of this.#conns) this.#drop(conn);
  }

  #drop(conn: Deno.Conn): void {
    if (!this.#conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

function connectOptions(url: string): Deno.ConnectOptions {
  const { hostname, port } = new URL(url);
  return { hostname, port: Number(port) };
}

interface Replica {
  name: string;
  election: LeaderElection;
  /** Changes with `performance.now()` times. */
  changes: { at: number; role: Role; leader: string | undefined }[];
}

function replica(
  name: string,
  key: string,
  endpoints: string[],
  extra: Partial<LeaderElectionOptions> = {},
): Replica {
  const election = new LeaderElection({
    endpoints,
    key,
    identity: name,
    ttlSeconds: TTL,
    ...extra,
  });
  const changes: Replica["changes"] = [];
  election.onChange((role, leader) => changes.push({ at: performance.now(), role, leader }));
  return { name, election, changes };
}

/** Reads every replica's role every 50 ms and records any moment with two leaders. */
function sample(replicas: Replica[]): { stop(): void; overlaps: string[]; count: number } {
  const state = { overlaps: [] as string[], count: 0 };
  const timer = setInterval(() => {
    state.count++;
    const leaders = replicas.filter((r) => r.election.role === "leader").map((r) => r.name);
    if (leaders.length > 1) state.overlaps.push(`${performance.now()}: ${leaders}`);
  }, 50);
  return {
    stop: () => clearInterval(timer),
    get overlaps() {
      return state.overlaps;
    },
    get count() {
      return state.count;
    },
  };
}

/** Polls `check` every 20 ms; fails after `timeoutMs`. */
async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function waitForLeader(replicas: Replica[], timeoutMs = 5_000): Promise<Replica> {
  await waitUntil(
    "one leader, the others following it",
    () => {
      const leaders = replicas.filter((r) => r.election.role === "leader");
      const [leader] = leaders;
      return leaders.length === 1 &&
        replicas.every((r) =>
          r === leader || (r.election.role === "follower" && r.election.leader === leader?.name)
        );
    },
    timeoutMs,
  );
  return replicas.find((r) => r.election.role === "leader")!;
}

function becameLeaderAt(r: Replica, after: number): number | undefined {
  return r.changes.find((c) => c.role === "leader" && c.at >= after)?.at;
}

/** The lease the key is attached to, as etcd says. */
async function keyLease(url: string, key: string): Promise<string | undefined> {
  const body = await post(`${url}/v3/kv/range`, { key: b64(key) }) as {
    kvs?: { lease?: string }[];
  };
  return body.kvs?.[0]?.lease;
}

/** True while etcd still has the lease (it answers TTL -1 once it is gone). */
async function leaseAlive(url: string, lease: string): Promise<boolean> {
  const body = await post(`${url}/v3/lease/timetolive`, { ID: lease }) as { TTL?: string };
  return body.TTL !== "-1";
}

async function closeAll(replicas: Replica[]): Promise<void> {
  await Promise.all(replicas.map((r) => r.election.close()));
}

serviceTest(
  "LeaderElection: two replicas on one key, one leads, the other follows it (with fail over)",
  { services: ["etcd"] },
  async ({ etcd }) => {
    const key = `/snapcron-test/${uniqueName("leader")}`;
    // The first endpoint refuses connections: each replica fails over to the real one.
    const dead = `http://127.0.0.1:${freePort()}`;
    const replicas = [replica("a", key, [dead, etcd.url]), replica("b", key, [dead, etcd.url])];
    try {
      for (const r of replicas) r.election.start();
      const leader = await waitForLeader(replicas);
      const follower = replicas.find((r) => r !== leader)!;
      assert.equal(leader.election.leader, leader.name);
      assert.equal(follower.election.leader, leader.name);
      assert.equal(await getValue(etcd.url, key), leader.name);
      // Several renewals later, nothing has changed.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      assert.deepEqual(leader.changes.map((c) => c.role), ["leader"]);
      assert.deepEqual(follower.changes.map((c) => c.role), ["follower"]);
      assert.equal(await getValue(etcd.url, key), leader.name);
    } finally {
      await closeAll(replicas);
    }
    assert.equal(await getValue(etcd.url, key), undefined, "close() left the key behind");
  },
);

serviceTest(
  "LeaderElection.close() of the leader: the follower leads within about a second",
  { services: ["etcd"] },
  async ({ etcd }) => {
    const key = `/snapcron-test/${uniqueName("leader")}`;
    const replicas = [replica("a", key, [etcd.url]), replica("b", key, [etcd.url])];
    const sampler = sample(replicas);
    try {
      for (const r of replicas) r.election.start();
      const leader = await waitForLeader(replicas);
      const follower = replicas.find((r) => r !== leader)!;
      const closedAt = performance.now();
      const closing = leader.election.close();
      assert.equal(leader.election.role, "unknown", "close() must stop the leader at once");
      await closing;
      await leader.election.close();
      await waitUntil("the follower leads", () => follower.election.role === "leader", 2_000);
      const takeover = becameLeaderAt(follower, closedAt)! - closedAt;
      assert.ok(takeover < 1_500, `takeover took ${takeover} ms`);
      assert.equal(await getValue(etcd.url, key), follower.name);
      assert.deepEqual(sampler.overlaps, []);
    } finally {
      sampler.stop();
      await closeAll(replicas);
    }
  },
);

serviceTest(
  "LeaderElection: a leader cut off from etcd steps down before its lease expires; the other takes over",
  { services: ["etcd"] },
  async ({ etcd }) => {
    const key = `/snapcron-test/${uniqueName("leader")}`;
    const proxy = new Proxy(etcd.url);
    const cutOff = replica("a", key, [proxy.url]);
    const other = replica("b", key, [etcd.url]);
    const replicas = [cutOff, other];
    const sampler = sample(replicas);
    try {
      cutOff.election.start();
      await waitForLeader([cutOff]);
      other.election.start();
      await waitForLeader(replicas);
      const lease = await keyLease(etcd.url, key);
      assert.ok(lease !== undefined);

      let aliveAtStepDown: Promise<boolean> | undefined;
      cutOff.election.onChange((role) => {
        if (role === "unknown") aliveAtStepDown ??= leaseAlive(etcd.url, lease);
      });
      const cutAt = performance.now();
      proxy.cut();
      await waitUntil("the cut-off leader steps down", () => aliveAtStepDown !== undefined, 3_000);
      const stepDown = cutOff.changes.at(-1)!.at - cutAt;
      assert.ok(stepDown <= STEP_DOWN_MS + 200, `stepped down ${stepDown} ms after the cut`);
      assert.equal(await aliveAtStepDown, true, "the lease had expired before the step-down");
      assert.equal(cutOff.election.leader, undefined);

      await waitUntil("the other leads", () => other.election.role === "leader", TAKEOVER_MS);
      const takeover = becameLeaderAt(other, cutAt)! - cutAt;
      assert.ok(takeover > stepDown, `took over at ${takeover} ms, before the step-down`);
      assert.ok(takeover <= TAKEOVER_MS, `took over ${takeover} ms after the cut`);
      assert.equal(await getValue(etcd.url, key), "b");
      assert.equal(await leaseAlive(etcd.url, lease), false);
      assert.equal(cutOff.election.role, "unknown");

      // Healed, the old leader follows the new one.
      proxy.restore();
      await waitForLeader(replicas, 3_000);
      assert.equal(other.election.role, "leader");
      assert.ok(sampler.count > 50);
      assert.deepEqual(sampler.overlaps, []);
    } finally {
      sampler.stop();
      await closeAll(replicas);
      await proxy.close();
    }
  },
);

serviceTest(
  "LeaderElection: three replicas, leaders killed one after another, never two leaders at once",
  { services: ["etcd"] },
  async ({ etcd }) => {
    const key = `/snapcron-test/${uniqueName("leader")}`;
    const proxies = ["a", "b", "c"].map(() => new Proxy(etcd.url));
    const replicas = ["a", "b", "c"].map((name, index) =>
      replica(name, key, [proxies[index]!.url])
    );
    const sampler = sample(replicas);
    try {
      for (const r of replicas) r.election.start();
      const first = await waitForLeader(replicas);

      // A crash: no release, the key stays until the lease expires.
      const killedAt = performance.now();
      await first.election.close({ release: false });
      const rest = replicas.filter((r) => r !== first);
      const second = await waitForLeader(rest, TAKEOVER_MS);
      const takeover = becameLeaderAt(second, killedAt)! - killedAt;
      assert.ok(
        takeover >= MARGIN_MS,
        `took over ${takeover} ms after the kill, lease still alive`,
      );
      assert.ok(takeover <= TAKEOVER_MS, `took over ${takeover} ms after the kill`);

      // A partition: the leader is alive but cannot renew.
      const cutAt = performance.now();
      proxies[replicas.indexOf(second)]!.cut();
      const third = rest.find((r) => r !== second)!;
      await waitUntil("the third leads", () => third.election.role === "leader", TAKEOVER_MS);
      const steppedDownAt = second.changes.at(-1)!;
      assert.equal(steppedDownAt.role, "unknown");
      const rose = becameLeaderAt(third, cutAt)!;
      assert.ok(steppedDownAt.at < rose, "the new leader rose before the old one stepped down");
      assert.ok(rose - cutAt <= TAKEOVER_MS, `took over ${rose - cutAt} ms after the cut`);
      assert.equal(await getValue(etcd.url, key), third.name);
      assert.ok(sampler.count > 50);
      assert.deepEqual(sampler.overlaps, []);
    } finally {
      sampler.stop();
      await closeAll(replicas);
      await Promise.all(proxies.map((proxy) => proxy.close()));
    }
  },
);

serviceTest(
  "LeaderElection with auth: logs in again after auth is switched off and on; etcd lost and back",
  { services: ["etcd"] },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "snapcron-lease-" });
    let server: TempEtcd | undefined = await startEtcd(dir);
    const proxy = new Proxy(server.url);
    const user = "root:lease-secret";
    const auth = { username: "root", password: "lease-secret" };
    const replicas = [
      replica("a", "/snapcron/leader/auth", [proxy.url], auth),
      replica("b", "/snapcron/leader/auth", [proxy.url], auth),
    ];
    const sampler = sample(replicas);
    try {
      await run("etcdctl", [...ctlFlags(server), "user", "add", user]);
      await run("etcdctl", [...ctlFlags(server), "user", "grant-role", "root", "root"]);
      await run("etcdctl", [...ctlFlags(server), "auth", "enable"]);
      for (const r of replicas) r.election.start();
      await waitForLeader(replicas);

      // Switching auth off and on invalidates every token. A replica that kept its stale token
      // would fail every round (401 is no fail over) and never settle again.
      // (On an idle machine nobody even notices; on a loaded one the login may make a round
      // late, and a leader then rightly steps down until the next one.)
      await run("etcdctl", [...ctlFlags(server, user), "auth", "disable"]);
      await run("etcdctl", [...ctlFlags(server), "auth", "enable"]);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const leader = await waitForLeader(replicas, 3_000);

      // etcd gone: the leader steps down, the follower no longer knows.
      const stoppedAt = performance.now();
      await server.stop();
      server = undefined;
      await waitUntil(
        "everyone unknown",
        () => replicas.every((r) => r.election.role === "unknown"),
        TTL * 1000 + 500,
      );
      assert.ok(leader.changes.at(-1)!.at - stoppedAt <= STEP_DOWN_MS + 200);

      // Back (same data, new port behind the same proxy): someone leads again.
      server = await startEtcd(dir, { dataDir: `${dir}/data` });
      proxy.restore(server.url);
      const next = await waitForLeader(replicas, 10_000);
      const stored = await run("etcdctl", [
        ...ctlFlags(server, user),
        "get",
        "--print-value-only",
        "/snapcron/leader/auth",
      ]);
      assert.equal(stored.trim(), next.name);
      assert.deepEqual(sampler.overlaps, []);
    } finally {
      sampler.stop();
      await closeAll(replicas);
      await proxy.close();
      await server?.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

const tlsName = "LeaderElection over https with a CA and a client certificate";
if (OPENSSL) {
  serviceTest(tlsName, { services: ["etcd"] }, async () => {
    const dir = await Deno.makeTempDir({ prefix: "snapcron-lease-tls-" });
    try {
      const tls = await makeCertificates(dir);
      const server = await startEtcd(dir, { tls });
      const files = { caFile: tls.ca, certFile: tls.clientCert, keyFile: tls.clientKey };
      const replicas = [
        replica("a", "/snapcron/leader/tls", [server.url], files),
        replica("b", "/snapcron/leader/tls", [server.url], files),
      ];
      try {
        for (const r of replicas) r.election.start();
        const leader = await waitForLeader(replicas);
        const stored = await run("etcdctl", [
          ...ctlFlags(server),
          "get",
          "--print-value-only",
          "/snapcron/leader/tls",
        ]);
        assert.equal(stored.trim(), leader.name);
      } finally {
        await closeAll(replicas);
        await server.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
} else {
  Deno.test({ name: `${tlsName} [ignored: openssl not found]`, ignore: true, fn() {} });
}
