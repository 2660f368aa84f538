/**
 * By-hand benchmark (not part of the test suite): wall time of `EtcdClient.snapshot()` read to
 * the end (verified and discarded) over gRPC and over the JSON gateway, against
 * `etcdctl snapshot save`, on a throwaway etcd loaded with values of 100 KB.
 *
 *   deno run --allow-all scripts/bench/etcd_snapshot.ts [--mb 100] [--runs 5]
 */
import { parseArgs } from "node:util";
import { EtcdClient } from "../../src/etcd/mod.ts";
import { startEtcd } from "../../tests/_etcd.ts";
import { loadEtcd, median, print } from "./_common.ts";

async function time(fn: () => Promise<number>): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const bytes = await fn();
  return { ms: performance.now() - started, bytes };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { mb: { type: "string", default: "100" }, runs: { type: "string", default: "5" } },
  });
  const megabytes = Number(values.mb);
  const runs = Number(values.runs);
  const dir = await Deno.makeTempDir({ prefix: "snapcron-etcd-bench-" });
  const etcd = await startEtcd(dir);
  const client = new EtcdClient({ endpoints: [etcd.url], timeoutMs: 60_000 });
  try {
    const loadTime = await time(async () => {
      await loadEtcd(etcd.url, megabytes);
      return 0;
    });
    const status = await client.status();
    print(
      `etcd ${status.version}, database ${(status.dbSize / 1e6).toFixed(1)} MB, loaded in ${
        (loadTime.ms / 1000).toFixed(1)
      } s`,
    );

    const file = `${dir}/snapshot.db`;
    const methods: Record<string, () => Promise<number>> = {
      "etcdctl snapshot save": async () => {
        const output = await new Deno.Command("etcdctl", {
          args: [`--endpoints=${etcd.url}`, "snapshot", "save", file],
          env: { ETCDCTL_API: "3" },
          stdout: "null",
          stderr: "null",
        }).output();
        if (!output.success) throw new Error("etcdctl snapshot save failed");
        return (await Deno.stat(file)).size;
      },
      "grpc -> discard": () => consume(client, "grpc"),
      "gateway -> discard": () => consume(client, "gateway"),
      "grpc -> file": () => consume(client, "grpc", `${dir}/grpc.db`),
    };
    // Rounds interleave the methods, so that drift (page cache, compaction) hits all alike.
    const results = new Map<string, { ms: number; bytes: number }[]>();
    for (let run = 0; run < runs; run++) {
      for (const [name, fn] of Object.entries(methods)) {
        const list = results.get(name) ?? [];
        list.push(await time(fn));
        results.set(name, list);
      }
    }
    const medians = new Map<string, number>();
    for (const [name, list] of results) {
      const ms = median(list.map((result) => result.ms));
      medians.set(name, ms);
      const sizes = [...new Set(list.map((result) => result.bytes))].join(", ");
      print(
        `${name.padEnd(22)} median ${(ms / 1000).toFixed(2)} s  runs ${
          list.map((result) => (result.ms / 1000).toFixed(2)).join(" ")
        }  bytes ${sizes}`,
      );
    }
    const reference = medians.get("etcdctl snapshot save")!;
    for (const name of ["grpc -> discard", "gateway -> discard", "grpc -> file"]) {
      print(`${name} / etcdctl = ${(medians.get(name)! / reference).toFixed(2)}`);
    }
  } finally {
    client.close();
    await etcd.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function consume(
  client: EtcdClient,
  transport: "grpc" | "gateway",
  file?: string,
): Promise<number> {
  const stream = await client.snapshot({ transport });
  if (file === undefined) {
    for await (const _chunk of stream.body) {
      // Discard: the stream verifies size and SHA-256 itself.
    }
  } else {
    using out = await Deno.open(file, { create: true, write: true, truncate: true });
    await stream.body.pipeTo(out.writable, { preventClose: true });
    await out.sync();
  }
  return (await stream.done).size;
}

if (import.meta.main) await main();
