// snapcron's etcd job kind end to end against the real etcd and s3proxy: snapshot into S3,
// list, restore, `etcdctl snapshot restore`, a new etcd reading the keys back; and streams that
// go bad on the way (a flipped byte, a connection cut mid-stream) leaving nothing behind.
import assert from "node:assert/strict";
import { snapcron, tempConfig } from "./_cli.ts";
import { deletePrefix, getValue, putKeys, run, startEtcd } from "./_etcd.ts";
import { type S3TestEnv, serviceTest, uniqueName } from "./_helpers.ts";
import { withBucket } from "./_s3.ts";

function s3Storage(s3: S3TestEnv, bucket: string): string {
  return `{ type: s3, bucket: ${bucket}, endpoint: "${s3.endpoint}", region: ${s3.region}, ` +
    `access_key_id: ${s3.accessKeyId}, secret_access_key: ${s3.secretAccessKey}, part_size: 5MiB }`;
}

/**
 * A proxy of our own in front of the etcd gateway: passes everything through, but in the
 * snapshot answer flips one base64 character ("flip") or ends the answer early ("cut") after
 * `after` bytes.
 */
function faultyProxy(upstream: string, mode: "flip" | "cut", after: number) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      const answer = await fetch(`${upstream}${url.pathname}${url.search}`, {
        method: request.method,
        headers: request.headers,
        body: request.body,
      });
      if (url.pathname !== "/v3/maintenance/snapshot" || !answer.body) return answer;
      let seen = 0;
      let done = false;
      const body = answer.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            if (!done && seen + chunk.length > after) {
              const at = after - seen;
              if (mode === "cut") {
                controller.enqueue(chunk.subarray(0, at));
                controller.error(new Error("cut by the test proxy"));
                return;
              }
              // Only flip inside a base64 blob: letters map to other letters.
              for (let i = at; i < chunk.length; i++) {
                const c = chunk[i]!;
                if (c >= 0x61 && c <= 0x79) {
                  chunk = chunk.slice();
                  chunk[i] = c + 1;
                  done = true;
                  break;
                }
              }
            }
            seen += chunk.length;
            controller.enqueue(chunk);
          },
        }),
      );
      return new Response(body, { status: answer.status, headers: answer.headers });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown().catch(() => {}),
  };
}

serviceTest(
  "etcd job: a snapshot streamed into S3 restores into a working etcd",
  { services: ["etcd", "s3"] },
  async ({ etcd, s3 }) => {
    const prefix = `/${uniqueName("snapcron-e2e")}`;
    await putKeys(etcd.url, prefix, 3000);
    const dir = await Deno.makeTempDir();
    try {
      await withBucket(s3, async ({ bucket, openUploads }) => {
        const config = await tempConfig(`
storage:
  s3: ${s3Storage(s3, bucket)}
jobs:
  etcd:
    schedule: "@hourly"
    etcd: { endpoints: ["http://127.0.0.1:1", "${etcd.url}"] }
    upload: { storage: s3, key: "etcd/{job}/{time}-{run}.db.gz" }
    retention: { keep_last: 1 }
`);
        try {
          for (let i = 0; i < 2; i++) {
            const once = await snapcron(["once", "etcd", "--config", config]);
            assert.equal(once.code, 0, once.stderr);
            assert.match(once.stderr, /Stored etcd snapshot of revision \d+/);
          }
          const listed = JSON.parse(
            (await snapcron(["list", "etcd", "--config", config, "--json"])).stdout,
          );
          assert.equal(listed.length, 1, "keep_last: 1 pruned the first backup");
          const verify = await snapcron(["verify", "etcd", "--config", config]);
          assert.equal(verify.code, 1, "one endpoint is down");
          assert.match(verify.stdout, new RegExp(`etcd ${etcd.url}: version 3\\.`));
          assert.match(verify.stdout, /etcd http:\/\/127\.0\.0\.1:1: /);
          assert.match(verify.stdout, /s3:\/\/.*: reachable, 1 backup\(s\) of "etcd"/);
          const manifest = listed[0];
          assert.equal(manifest.source.kind, "etcd");
          assert.equal(manifest.source.endpoint, etcd.url, "failed over past the dead endpoint");
          assert.match(manifest.source.etcd_version, /^3\./);
          assert.equal(manifest.content_size % 512, 32, "etcd's size rule");
          assert.deepEqual(await openUploads(), []);

          const file = `${dir}/restored.db`;
          const restore = await snapcron([
            "restore",
            "etcd",
            "latest",
            "--to",
            file,
            "--config",
            config,
          ]);
          assert.equal(restore.code, 0, restore.stderr);
          assert.match(restore.stdout, /etcdctl snapshot restore/);
          assert.equal((await Deno.stat(file)).size, manifest.content_size);
          await run("etcdctl", ["snapshot", "restore", file, "--data-dir", `${dir}/data`]);
          const restored = await startEtcd(dir, { dataDir: `${dir}/data` });
          try {
            assert.match(await getValue(restored.url, `${prefix}/02999`) ?? "", /^value 2999 /);
          } finally {
            await restored.stop();
          }
        } finally {
          await Deno.remove(config);
        }
      });
    } finally {
      await deletePrefix(etcd.url, prefix);
      await Deno.remove(dir, { recursive: true });
    }
  },
);

serviceTest(
  "etcd job: a snapshot into local storage restores into a working etcd",
  { services: ["etcd"] },
  async ({ etcd }) => {
    const prefix = `/${uniqueName("snapcron-e2e")}`;
    await putKeys(etcd.url, prefix, 2000);
    const dir = await Deno.makeTempDir();
    const config = await tempConfig(`
storage:
  local: { type: local, path: "${dir}/backups" }
jobs:
  etcd:
    schedule: "@hourly"
    etcd: { endpoints: ["${etcd.url}"], transport: grpc }
    upload: { storage: local }
`);
    try {
      const once = await snapcron(["once", "etcd", "--config", config]);
      assert.equal(once.code, 0, once.stderr);
      const file = `${dir}/restored.db`;
      const restore = await snapcron([
        "restore",
        "etcd",
        "latest",
        "--to",
        file,
        "--config",
        config,
      ]);
      assert.equal(restore.code, 0, restore.stderr);
      await run("etcdctl", ["snapshot", "restore", file, "--data-dir", `${dir}/data`]);
      const restored = await startEtcd(dir, { dataDir: `${dir}/data` });
      try {
        assert.match(await getValue(restored.url, `${prefix}/01999`) ?? "", /^value 1999 /);
      } finally {
        await restored.stop();
      }
    } finally {
      await deletePrefix(etcd.url, prefix);
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(config);
    }
  },
);

for (const mode of ["flip", "cut"] as const) {
  serviceTest(
    `etcd job: a snapshot stream that goes bad (${mode}) fails the run and leaves no object or upload`,
    { services: ["etcd", "s3"] },
    async ({ etcd, s3 }) => {
      const prefix = `/${uniqueName("snapcron-e2e")}`;
      await putKeys(etcd.url, prefix, 3000);
      const proxy = faultyProxy(etcd.url, mode, 200_000);
      try {
        await withBucket(s3, async ({ bucket, openUploads, client }) => {
          const config = await tempConfig(`
storage:
  s3: ${s3Storage(s3, bucket)}
jobs:
  etcd:
    schedule: "@hourly"
    etcd: { endpoints: ["${proxy.url}"], transport: gateway }
    upload: { storage: s3, compress: none }
`);
          try {
            const once = await snapcron(["once", "etcd", "--config", config]);
            assert.equal(once.code, 1, once.stderr);
            assert.match(
              once.stderr,
              mode === "flip"
                ? /Trailer does not match|SHA-256/
                : /ended early|size rule|cut short|connection lost/i,
            );
            const { ListObjectsV2Command } = await import("@aws-sdk/client-s3");
            const objects = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
            assert.deepEqual(objects.Contents ?? [], [], "no object, no manifest");
            assert.deepEqual(await openUploads(), [], "no pending multipart upload");
          } finally {
            await Deno.remove(config);
          }
        });
      } finally {
        await proxy.close();
        await deletePrefix(etcd.url, prefix);
      }
    },
  );
}
