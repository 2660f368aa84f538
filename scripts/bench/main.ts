/**
 * `deno task bench [NAME] [-- ARGS]`: runs the by-hand benchmarks, each against a peer measured
 * in the same run (times on this shared machine are noisy; ratios are what count).
 */
const BENCHES: Record<string, { file: string; about: string }> = {
  etcd_snapshot: {
    file: "etcd_snapshot.ts",
    about: "EtcdClient.snapshot() over gRPC and the gateway against etcdctl snapshot save",
  },
};

const encoder = new TextEncoder();
const [name, ...rest] = Deno.args;
const chosen = name === undefined ? Object.keys(BENCHES) : [name];
for (const bench of chosen) {
  const entry = BENCHES[bench];
  if (!entry) {
    Deno.stderr.writeSync(
      encoder.encode(
        `Unknown benchmark "${bench}": use one of ${Object.keys(BENCHES).join(", ")}\n`,
      ),
    );
    Deno.exit(2);
  }
  Deno.stdout.writeSync(encoder.encode(`== ${bench}: ${entry.about}\n`));
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL(entry.file, import.meta.url).pathname, ...rest],
  }).spawn().status;
  if (code !== 0) Deno.exit(code);
}
