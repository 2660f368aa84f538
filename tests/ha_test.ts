// Three `snapcron run` replicas electing a leader through the real etcd: only the leader runs the
// one-second job; kill -9 the leader and a standby takes over within the lease TTL; no slot ever
// runs twice.
import assert from "node:assert/strict";
import { collect, freePort, spawnSnapcron, tempConfig, waitFor } from "./_cli.ts";
import { serviceTest, uniqueName } from "./_helpers.ts";

/** Seconds the job runs under each leader; SNAPCRON_HA_SECONDS=50 gives the README's 100 slots. */
const PHASE_SECONDS = Number(Deno.env.get("SNAPCRON_HA_SECONDS") ?? "8");

interface Replica {
  name: string;
  port: number;
  child: Deno.ChildProcess;
  streams: { text: () => string; done: Promise<void> }[];
}

async function role(replica: Replica): Promise<string | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${replica.port}/`);
    const body = await response.json();
    return body.ha?.role;
  } catch {
    return undefined;
  }
}

serviceTest(
  "ha: one leader schedules; after kill -9 of the leader a standby takes over; no slot runs twice",
  { services: ["etcd"] },
  async ({ etcd }) => {
    const dir = await Deno.makeTempDir();
    const ticks = `${dir}/ticks`;
    const key = `/snapcron-test/${uniqueName("leader")}`;
    const replicas: Replica[] = [];
    try {
      for (const name of ["a", "b", "c"]) {
        const port = freePort();
        const config = await tempConfig(`
status: { listen: "127.0.0.1:${port}" }
ha:
  etcd: { endpoints: ["${etcd.url}"] }
  key: ${key}
  identity: replica-${name}
  ttl: 3s
jobs:
  tick:
    schedule: "* * * * * *"
    shell: 'echo "$(date +%s) ${name}" >> ${ticks}'
`);
        const child = spawnSnapcron(["run", "--config", config]);
        replicas.push({
          name,
          port,
          child,
          streams: [collect(child.stdout), collect(child.stderr)],
        });
      }
      const leader = await waitFor("a leader", async () => {
        const roles = await Promise.all(replicas.map(role));
        const leaders = replicas.filter((_, i) => roles[i] === "leader");
        return leaders.length === 1 ? leaders[0] : undefined;
      }, 30_000);
      await new Promise((resolve) => setTimeout(resolve, PHASE_SECONDS * 1000));
      const killedAt = Date.now() / 1000;
      leader.child.kill("SIGKILL");
      await leader.child.status;
      const survivors = replicas.filter((replica) => replica !== leader);
      const next = await waitFor("a new leader", async () => {
        const roles = await Promise.all(survivors.map(role));
        const leaders = survivors.filter((_, i) => roles[i] === "leader");
        return leaders.length === 1 ? leaders[0] : undefined;
      }, 30_000);
      await new Promise((resolve) => setTimeout(resolve, PHASE_SECONDS * 1000));
      for (const replica of survivors) replica.child.kill("SIGTERM");
      await Promise.all(survivors.map((replica) => replica.child.status));
      await Promise.all(replicas.flatMap((replica) => replica.streams.map((s) => s.done)));

      const lines = (await Deno.readTextFile(ticks)).trim().split("\n").map((line) =>
        line.split(" ")
      );
      const seconds = lines.map(([second]) => Number(second));
      const bySecond = new Map<number, string[]>();
      for (const [second, who] of lines) {
        bySecond.set(Number(second), [...(bySecond.get(Number(second)) ?? []), who!]);
      }
      const doubles = [...bySecond].filter(([, who]) => who.length > 1);
      assert.deepEqual(doubles, [], "no slot ran twice");
      const writers = new Set(lines.map(([, who]) => who));
      assert.ok(writers.has(leader.name) && writers.has(next.name), "both leaders ran the job");
      // The only gap is the takeover: from the kill until the lease expired (ttl 3s) and a
      // standby noticed (at most a poll later).
      const first = Math.min(...seconds);
      const last = Math.max(...seconds);
      const missing = [];
      for (let second = first; second <= last; second++) {
        if (!bySecond.has(second)) missing.push(second);
      }
      assert.ok(
        missing.every((second) => second >= Math.floor(killedAt) - 1),
        `gaps only after the kill: ${missing}`,
      );
      assert.ok(missing.length <= 6, `takeover window ${missing.length}s`);
      // deno-lint-ignore no-console -- the figures the README quotes
      console.error(
        `ha: ${lines.length} runs over ${
          last - first + 1
        } slots, none twice; takeover gap ${missing.length}s ` +
          `(${leader.name} -> ${next.name})`,
      );
    } finally {
      for (const replica of replicas) {
        try {
          replica.child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await Promise.allSettled(replicas.map((replica) => replica.child.status));
      await Deno.remove(dir, { recursive: true });
    }
  },
);
