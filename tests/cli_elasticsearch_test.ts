// snapcron's elasticsearch job kind end to end: `once`, `list`, `retention` and `restore`
// against the real Elasticsearch test node, each test in its own repository and indices.
import assert from "node:assert/strict";
import { collect, freePort, snapcron, tempConfig, waitFor } from "./_cli.ts";
import { bulkDocs, esRequest } from "./_es.ts";
import { makeCertificates, type TlsFiles } from "./_etcd.ts";
import { type EsTestEnv, fetchJson, isCi, serviceTest, uniqueName } from "./_helpers.ts";

function es(env: EsTestEnv, method: string, path: string, body?: unknown) {
  return esRequest(env.url, method, path, body);
}

/** Creates `index` with `docs` documents; with `textBytes`, each carries that much random text. */
async function makeIndex(
  env: EsTestEnv,
  index: string,
  docs: number,
  textBytes = 0,
): Promise<void> {
  await es(env, "PUT", `/${index}`, { settings: { number_of_shards: 1, number_of_replicas: 0 } });
  await bulkDocs(env.url, index, docs, textBytes);
}

async function count(env: EsTestEnv, index: string): Promise<number> {
  const body = await es(env, "GET", `/${index}/_count`);
  return body.count as number;
}

function configFor(_env: EsTestEnv, _repo: string, jobs: string): Promise<string> {
  return tempConfig(`jobs:\n${jobs}`);
}

function job(env: EsTestEnv, name: string, repo: string, extra: string): string {
  return `  ${name}:
    schedule: "@daily"
    elasticsearch:
      urls: ["${env.url}"]
      repository: { name: ${repo}, type: fs, settings: { location: "${env.repoPath}/${repo}" } }
      snapshot: "snap-{job}-%Y%m%d-%H%M%S"
${extra.split("\n").filter(Boolean).map((line) => `      ${line}`).join("\n")}
`;
}

async function cleanup(env: EsTestEnv, repo: string, indices: string[]): Promise<void> {
  const listed = await fetchJson(`${env.url}/_snapshot/${repo}/_all`);
  const names = ((listed.body as { snapshots?: { snapshot: string }[] })?.snapshots ?? [])
    .map((s) => s.snapshot);
  if (names.length > 0) {
    await fetchJson(`${env.url}/_snapshot/${repo}/${names.join(",")}`, { method: "DELETE" });
  }
  await fetchJson(`${env.url}/_snapshot/${repo}`, { method: "DELETE" });
  for (const index of indices) await fetchJson(`${env.url}/${index}`, { method: "DELETE" });
  // Deleting a repository leaves its files: remove the folder too (we run as root here).
  await Deno.remove(`${env.repoPath}/${repo}`, { recursive: true }).catch(() => {});
}

serviceTest(
  "elasticsearch job: snapshots, SLM-style retention, list and a renamed restore round trip",
  { services: ["es"] },
  async ({ es: env }) => {
    const repo = uniqueName("snapcron-e2e");
    const index = uniqueName("docs");
    await makeIndex(env, index, 250);
    const config = await configFor(
      env,
      repo,
      job(
        env,
        "nightly",
        repo,
        `indices: ["${index}"]\nretention: { max_count: 2, schedule: "@daily" }`,
      ),
    );
    try {
      for (let i = 0; i < 3; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1100)); // names are per second
        const run = await snapcron(["once", "nightly", "--config", config]);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /SUCCESS: 1 indices, 1\/1 shards/);
      }
      const listed = await snapcron(["list", "nightly", "--config", config, "--json"]);
      assert.equal(listed.code, 0, listed.stderr);
      const snapshots = JSON.parse(listed.stdout);
      assert.equal(snapshots.length, 2, "max_count: 2 deleted the oldest");
      assert.ok(
        snapshots.every((s: { metadata: Record<string, unknown> }) =>
          s.metadata.snapcron_job === "nightly"
        ),
      );

      const verify = await snapcron(["verify", "nightly", "--config", config]);
      assert.equal(verify.code, 0, verify.stderr);
      assert.match(
        verify.stdout,
        new RegExp(`elasticsearch 9\\.\\d+\\.\\d+: repository "${repo}" verified on `),
      );
      const scheduled = await snapcron(["once", "nightly.retention", "--config", config]);
      assert.equal(scheduled.code, 0, scheduled.stderr);
      assert.match(scheduled.stderr, /Retention deleted 0 snapshot\(s\) of "nightly"/);

      const plan = await snapcron(["retention", "nightly", "--dry-run", "--config", config]);
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stdout, /KEEP .*newest-success/);
      assert.match(plan.stdout, /0 to delete, 2 to keep/);

      const refused = await snapcron(["restore", "nightly", "latest", "--config", config]);
      assert.equal(refused.code, 2);
      assert.match(
        refused.stderr,
        new RegExp(`would overwrite open index "${index}": pass --close-existing`),
      );

      const restored = await snapcron([
        "restore",
        "nightly",
        "latest",
        "--config",
        config,
        "--rename-pattern",
        "(.+)",
        "--rename-replacement",
        "restored-$1",
      ]);
      assert.equal(restored.code, 0, restored.stderr);
      assert.match(
        restored.stdout,
        /Restored 1 indices \(1\/1 shards(, [\d.]+ \w+)?\) in \d+\.\ds/,
      );
      assert.equal(await count(env, `restored-${index}`), 250);
    } finally {
      await cleanup(env, repo, [index, `restored-${index}`]);
      await Deno.remove(config);
    }
  },
);

serviceTest(
  "elasticsearch job: a PARTIAL snapshot fails the run unless allowed, and an empty one too",
  { services: ["es"] },
  async ({ es: env }) => {
    const repo = uniqueName("snapcron-e2e");
    const good = uniqueName("good");
    const stuck = uniqueName("stuck");
    await makeIndex(env, good, 10);
    // A primary that can never be allocated: the snapshot of it can only be PARTIAL.
    await es(env, "PUT", `/${stuck}?wait_for_active_shards=0`, {
      settings: {
        number_of_shards: 1,
        number_of_replicas: 0,
        "index.routing.allocation.require._name": "nonexistent",
      },
    });
    const config = await configFor(
      env,
      repo,
      job(env, "strict", repo, `indices: ["${good}", "${stuck}"]\npartial: true`) +
        job(
          env,
          "lenient",
          repo,
          `indices: ["${good}", "${stuck}"]\npartial: true\nallow_partial: true`,
        ) +
        job(env, "empty", repo, `indices: ["${uniqueName("nothing")}*"]\nignore_unavailable: true`),
    );
    try {
      const strict = await snapcron(["once", "strict", "--config", config]);
      assert.equal(strict.code, 1, strict.stderr);
      assert.match(strict.stderr, /PARTIAL/);
      assert.match(strict.stderr, new RegExp(stuck));
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const lenient = await snapcron(["once", "lenient", "--config", config]);
      assert.equal(lenient.code, 0, lenient.stderr);
      const empty = await snapcron(["once", "empty", "--config", config]);
      assert.equal(empty.code, 1, empty.stderr);
      assert.match(empty.stderr, /no ind|matched no|empty/i);
    } finally {
      await cleanup(env, repo, [good, stuck]);
      await Deno.remove(config);
    }
  },
);

serviceTest(
  "elasticsearch job: hitting the timeout fails the run and aborts the snapshot",
  { services: ["es"] },
  async ({ es: env }) => {
    const repo = uniqueName("snapcron-e2e");
    const index = uniqueName("slow");
    await makeIndex(env, index, 20_000);
    // A throttled repository keeps the snapshot running well past the job's timeout.
    const config = await tempConfig(`jobs:
  slow:
    schedule: "@daily"
    timeout: 3s
    kill_grace: 1s
    elasticsearch:
      urls: ["${env.url}"]
      repository:
        name: ${repo}
        type: fs
        settings: { location: "${env.repoPath}/${repo}", max_snapshot_bytes_per_sec: 100kb }
      indices: ["${index}"]
`);
    try {
      const started = Date.now();
      const run = await snapcron(["once", "slow", "--config", config]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /Timed out after 3s/);
      assert.match(run.stderr, /Aborted snapshot "snapcron-slow-/);
      assert.ok(Date.now() - started < 30_000);
      const left = await waitFor("the aborted snapshot to go", async () => {
        const listed = await fetchJson(`${env.url}/_snapshot/${repo}/_all`);
        const snapshots = (listed.body as { snapshots: unknown[] }).snapshots;
        return snapshots.length === 0 ? snapshots : undefined;
      }, 60_000);
      assert.deepEqual(left, []);
    } finally {
      await cleanup(env, repo, [index]);
      await Deno.remove(config);
    }
  },
);

/** Flips bytes inside the largest data file of the snapshot repository's shard 0 copies. */
async function corruptLargestBlob(location: string): Promise<string> {
  let largest: { path: string; size: number } | undefined;
  for await (const index of Deno.readDir(`${location}/indices`)) {
    const shard = `${location}/indices/${index.name}/0`;
    for await (const entry of Deno.readDir(shard)) {
      if (!entry.name.startsWith("__")) continue;
      const { size } = await Deno.stat(`${shard}/${entry.name}`);
      if (size > (largest?.size ?? 0)) largest = { path: `${shard}/${entry.name}`, size };
    }
  }
  assert.ok(largest && largest.size > 100_000, `no large data file under ${location}`);
  const bytes = await Deno.readFile(largest.path);
  for (let i = 1000; i < bytes.length - 1000; i += 997) bytes[i] = bytes[i]! ^ 0xff;
  await Deno.writeFile(largest.path, bytes);
  return largest.path;
}

serviceTest(
  "snapcron restore prints progress at most once a second, a summary, and fails naming a shard that cannot be recovered",
  { services: ["es"] },
  async ({ es: env }) => {
    const repo = uniqueName("snapcron-e2e");
    const index = uniqueName("restore");
    const location = `${env.repoPath}/${repo}`;
    await makeIndex(env, index, 1500, 1000);
    // About 1.2 MB restored at 256 KB/s: a few seconds of progress to watch.
    const config = await tempConfig(`jobs:
  nightly:
    schedule: "@daily"
    elasticsearch:
      urls: ["${env.url}"]
      repository:
        name: ${repo}
        type: fs
        settings: { location: "${location}", max_restore_bytes_per_sec: 256kb }
      snapshot: "snap-{job}-%Y%m%d-%H%M%S"
      indices: ["${index}"]
`);
    const restoredAs = (prefix: string) => [
      "--rename-pattern",
      "(.+)",
      "--rename-replacement",
      `${prefix}-$1`,
    ];
    try {
      const run = await snapcron(["once", "nightly", "--config", config]);
      assert.equal(run.code, 0, run.stderr);

      const started = performance.now();
      const restored = await snapcron([
        "restore",
        "nightly",
        "latest",
        "--config",
        config,
        ...restoredAs("restored"),
      ]);
      const seconds = (performance.now() - started) / 1000;
      assert.equal(restored.code, 0, restored.stderr);
      assert.match(
        restored.stdout,
        /Restored 1 indices \(1\/1 shards, \d+(\.\d)? MiB\) in \d+\.\ds/,
      );
      const lines = restored.stderr.split("\n").filter((line) => line.startsWith("Restoring "));
      assert.ok(lines.length >= 2, `expected progress lines, got:\n${restored.stderr}`);
      assert.ok(lines.length <= Math.ceil(seconds), `${lines.length} lines in ${seconds} s`);
      for (const line of lines) {
        assert.match(
          line,
          /^Restoring "snap-nightly-\d{8}-\d{6}": [01]\/1 shards, [\d.]+ (bytes|KiB|MiB) of [\d.]+ MiB \(\d{1,3}%\)$/,
        );
      }
      const percents = lines.map((line) => Number(/\((\d+)%\)$/.exec(line)?.[1]));
      assert.deepEqual(percents, [...percents].sort((a, b) => a - b), "progress only grows");
      assert.equal(await count(env, `restored-${index}`), 1500);

      await corruptLargestBlob(location);
      const broken = await snapcron([
        "restore",
        "nightly",
        "latest",
        "--config",
        config,
        ...restoredAs("broken"),
      ]);
      assert.equal(broken.code, 1, broken.stderr);
      assert.match(
        broken.stderr,
        new RegExp(`index "broken-${index}" shard 0: ALLOCATION_FAILED: .*CorruptIndexException`),
      );
      assert.match(
        broken.stderr,
        /Restore of "snap-nightly-\d{8}-\d{6}" failed: 1 of 1 shards could not be recovered/,
      );
    } finally {
      await cleanup(env, repo, [index, `restored-${index}`, `broken-${index}`]);
      await Deno.remove(config);
    }
  },
);

/** True when Debian's stunnel4 (scripts/install-test-tools.sh installs it) is on the PATH. */
async function hasStunnel(): Promise<boolean> {
  try {
    await new Deno.Command("stunnel4", { args: ["-version"], stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch (error) {
    // Only a missing binary skips; a missing --allow-run must fail loudly.
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * stunnel in front of the test node: TLS with `tls.serverCert`, and a client certificate signed
 * by `tls.ca` required and verified. Returns its https URL and a stop function.
 */
async function tlsProxy(
  env: EsTestEnv,
  dir: string,
  tls: TlsFiles,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = freePort();
  const upstream = new URL(env.url);
  await Deno.writeTextFile(
    `${dir}/stunnel.conf`,
    `foreground = yes
pid =
debug = notice
[es]
accept = 127.0.0.1:${port}
connect = ${upstream.hostname}:${upstream.port}
cert = ${tls.serverCert}
key = ${tls.serverKey}
CAfile = ${tls.ca}
requireCert = yes
verifyChain = yes
`,
  );
  const child = new Deno.Command("stunnel4", {
    args: [`${dir}/stunnel.conf`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log = collect(child.stderr);
  const stop = async () => {
    child.kill("SIGTERM");
    await child.status;
    await log.done;
  };
  try {
    await waitFor("stunnel to listen", async () => {
      const connection = await Deno.connect({ hostname: "127.0.0.1", port });
      connection.close();
      return true;
    }, 10_000);
  } catch (error) {
    await stop();
    throw new Error(`stunnel did not start: ${log.text()}`, { cause: error });
  }
  return { url: `https://127.0.0.1:${port}`, stop };
}

const TLS_TEST =
  "elasticsearch job over TLS with a required client certificate: works with CA and certificate, names the key to set otherwise";
if (isCi() || await hasStunnel()) {
  serviceTest(TLS_TEST, { services: ["es"] }, async ({ es: env }) => {
    if (!(await hasStunnel())) {
      throw new Error(
        'Cannot start a TLS proxy: stunnel4 not found (run "scripts/install-test-tools.sh", ' +
          "or apt-get install -y stunnel4)",
      );
    }
    const dir = await Deno.makeTempDir({ prefix: "snapcron-es-tls-" });
    await Deno.mkdir(`${dir}/right`);
    await Deno.mkdir(`${dir}/other`);
    const right = await makeCertificates(`${dir}/right`);
    // A second CA: neither the server's nor the client's certificate is signed by it.
    const other = await makeCertificates(`${dir}/other`);
    const proxy = await tlsProxy(env, dir, right);
    const repo = uniqueName("snapcron-tls");
    const index = uniqueName("tls");
    await makeIndex(env, index, 20);
    const jobWith = (name: string, tls: string) =>
      `  ${name}:
    schedule: "@daily"
    elasticsearch:
      urls: ["${proxy.url}"]
${tls.split("\n").filter(Boolean).map((line) => `      ${line}`).join("\n")}
      repository: { name: ${repo}, type: fs, settings: { location: "${env.repoPath}/${repo}" } }
      snapshot: "tls-{job}-%Y%m%d-%H%M%S"
      indices: ["${index}"]
`;
    const config = await tempConfig(
      "jobs:\n" +
        jobWith(
          "mutual",
          `ca_file: "${right.ca}"\ncert_file: "${right.clientCert}"\nkey_file: "${right.clientKey}"`,
        ) +
        jobWith("no-cert", `ca_file: "${right.ca}"`) +
        jobWith(
          "wrong-ca",
          `ca_file: "${other.ca}"\ncert_file: "${right.clientCert}"\nkey_file: "${right.clientKey}"`,
        ) +
        jobWith(
          "foreign-cert",
          `ca_file: "${right.ca}"\ncert_file: "${other.clientCert}"\nkey_file: "${other.clientKey}"`,
        ),
    );
    try {
      const mutual = await snapcron(["once", "mutual", "--config", config]);
      assert.equal(mutual.code, 0, mutual.stderr);
      assert.match(
        mutual.stderr,
        /Snapshot "tls-mutual-\d{8}-\d{6}" SUCCESS: 1 indices, 1\/1 shards/,
      );

      const noCert = await snapcron(["once", "no-cert", "--config", config]);
      assert.equal(noCert.code, 1, noCert.stderr);
      assert.match(
        noCert.stderr,
        /TLS handshake failed: .*CertificateRequired \(the server requires a client certificate: set "cert_file" and "key_file"\)/,
      );

      const wrongCa = await snapcron(["once", "wrong-ca", "--config", config]);
      assert.equal(wrongCa.code, 1, wrongCa.stderr);
      assert.match(
        wrongCa.stderr,
        /TLS handshake failed: .*invalid peer certificate: .*\(the server's certificate is not trusted: set "ca_file" to the CA that signed it\)/,
      );

      const foreign = await snapcron(["once", "foreign-cert", "--config", config]);
      assert.equal(foreign.code, 1, foreign.stderr);
      assert.match(
        foreign.stderr,
        /TLS handshake failed: .*\(the server refused the client certificate: "cert_file" must be signed by a CA it trusts\)/,
      );
    } finally {
      await proxy.stop();
      await cleanup(env, repo, [index]);
      await Deno.remove(config);
      await Deno.remove(dir, { recursive: true });
    }
  });
} else {
  Deno.test({
    name: `${TLS_TEST} [ignored: stunnel4 not found; run scripts/install-test-tools.sh]`,
    ignore: true,
    fn() {},
  });
}
