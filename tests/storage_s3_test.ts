// S3Storage against the real S3 test server (s3proxy): single puts, streamed multipart uploads,
// aborts that leave nothing behind, batching, pagination, memory and TLS with a private CA.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { StorageError } from "../src/storage/mod.ts";
import { S3Storage } from "../src/storage/s3.ts";
import { serviceTest } from "./_helpers.ts";
import { withBucket } from "./_s3.ts";

const MiB = 1024 * 1024;

interface Generated {
  stream: ReadableStream<Uint8Array>;
  /** SHA-256 of the bytes emitted so far (all of them once the stream is done). */
  sha256(): string;
  /** Whether the consumer cancelled the stream. */
  cancelled(): boolean;
}

/**
 * A pull stream of `size` pseudo-random bytes in uneven chunks, its length unknown to the
 * reader. `failAt` errors it there; `onPull` sees the bytes emitted so far.
 */
function generated(
  size: number,
  options: { failAt?: number; onPull?: (sent: number) => void; seed?: number } = {},
): Generated {
  const hash = createHash("sha256");
  let state = options.seed ?? 0x9e3779b9;
  let sent = 0;
  let cancelled = false;
  let digest: string | undefined;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      options.onPull?.(sent);
      if (options.failAt !== undefined && sent >= options.failAt) {
        controller.error(new Error("snapshot stream broke"));
        return;
      }
      if (sent >= size) {
        controller.close();
        return;
      }
      // 64 KiB + 17 so that chunks straddle part boundaries.
      const length = Math.min(65_553, size - sent);
      const words = new Uint32Array(Math.ceil(length / 4));
      for (let i = 0; i < words.length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        words[i] = state;
      }
      const chunk = new Uint8Array(words.buffer, 0, length);
      hash.update(chunk);
      sent += length;
      controller.enqueue(chunk);
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    sha256: () => (digest ??= hash.digest("hex")),
    cancelled: () => cancelled,
  };
}

/** SHA-256 and length of everything `stream` yields. */
async function digestStream(stream: ReadableStream<Uint8Array>) {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest("hex") };
}

async function rejection(promise: Promise<unknown>): Promise<StorageError> {
  const error = await promise.then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof StorageError, `expected a StorageError, got ${error}`);
  return error;
}

interface Proxy {
  port: number;
  /** Most connections open at the same time. */
  maxOpen: number;
  close(): Promise<void>;
}

/** A TCP relay to `port` on 127.0.0.1, optionally terminating TLS, that counts connections. */
function startProxy(port: number, tls?: { cert: string; key: string }): Proxy {
  const listener = tls
    ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...tls })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const relays = new Set<Promise<void>>();
  let open = 0;
  const proxy: Proxy = {
    port: listener.addr.port,
    maxOpen: 0,
    async close() {
      listener.close();
      for (const conn of conns) closeQuietly(conn);
      await accepting;
      await Promise.all(relays);
    },
  };
  async function relay(client: Deno.Conn): Promise<void> {
    open++;
    proxy.maxOpen = Math.max(proxy.maxOpen, open);
    let upstream: Deno.Conn | undefined;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.add(upstream);
      const a = pump(client, upstream);
      const b = pump(upstream, client);
      await Promise.race([a, b]);
      closeQuietly(client);
      closeQuietly(upstream);
      await Promise.all([a, b]);
    } catch {
      // A failed handshake (an untrusted client) ends the connection; that is the point.
    } finally {
      closeQuietly(client);
      if (upstream) closeQuietly(upstream);
      conns.delete(client);
      if (upstream) conns.delete(upstream);
      open--;
    }
  }
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        const running = relay(conn).finally(() => relays.delete(running));
        relays.add(running);
      }
    } catch {
      // Closed.
    }
  })();
  return proxy;
}

async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) return;
      for (let offset = 0; offset < n;) offset += await to.write(buffer.subarray(offset, n));
    }
  } catch {
    // The other side closed.
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

serviceTest(
  "S3Storage.put() sends a small object in one PutObject with its SHA-256 in metadata",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const storage = ctx.storage({ prefix: "/team/prod/" });
      assert.equal(storage.description, `s3://${ctx.bucket}/team/prod`);
      const data = generated(300 * 1024 + 5);
      const progress: number[] = [];
      const result = await storage.put("etcd/small.db", data.stream, {
        contentType: "application/x-etcd-snapshot",
        metadata: { job: "etcd-hourly" },
        onProgress: (bytes) => progress.push(bytes),
      });
      assert.equal(result.key, "etcd/small.db");
      assert.equal(result.size, 300 * 1024 + 5);
      assert.equal(result.sha256, data.sha256());
      assert.match(result.etag ?? "", /^"[0-9a-f]{32}"$/);
      assert.deepEqual(progress, [result.size]);

      const head = await ctx.client.send(
        new HeadObjectCommand({ Bucket: ctx.bucket, Key: "team/prod/etcd/small.db" }),
      );
      assert.equal(head.ContentType, "application/x-etcd-snapshot");
      assert.deepEqual(head.Metadata, { job: "etcd-hourly", sha256: data.sha256() });
      assert.deepEqual(await digestStream(await storage.get("etcd/small.db")), {
        size: result.size,
        sha256: data.sha256(),
      });

      const empty = await storage.put("etcd/empty", generated(0).stream);
      assert.equal(empty.size, 0);
      assert.equal(empty.sha256, createHash("sha256").digest("hex"));
      assert.deepEqual(
        (await storage.list("etcd/")).map((object) => [object.key, object.size]),
        [["etcd/empty", 0], ["etcd/small.db", result.size]],
      );
    });
  },
);

serviceTest(
  "S3Storage.put() streams 40 MiB of unknown length as a multipart upload, parts in parallel",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const port = Number(new URL(s3.endpoint).port);
      const proxy = startProxy(port);
      try {
        const storage = ctx.storage({
          endpoint: `http://127.0.0.1:${proxy.port}`,
          partSize: 5 * MiB,
          concurrency: 4,
        });
        const size = 40 * MiB + 12_345;
        const data = generated(size);
        const progress: number[] = [];
        const result = await storage.put("es/big.bin", data.stream, {
          onProgress: (bytes) => progress.push(bytes),
        });
        assert.equal(result.size, size);
        assert.equal(result.sha256, data.sha256());
        // A multipart ETag ends with the part count: 8 full parts of 5 MiB and a short ninth.
        assert.match(result.etag ?? "", /-9"$/);
        assert.equal(progress.length, 9);
        assert.equal(progress.at(-1), size);
        assert.ok(proxy.maxOpen >= 2, `parts went one at a time (${proxy.maxOpen} connections)`);
        assert.deepEqual(await ctx.openUploads(), []);
        assert.deepEqual(await digestStream(await storage.get("es/big.bin")), {
          size,
          sha256: data.sha256(),
        });

        const controller = new AbortController();
        const reader = (await storage.get("es/big.bin", { signal: controller.signal })).getReader();
        assert.equal((await reader.read()).done, false);
        controller.abort(new Error("reader gave up"));
        await assert.rejects(async () => {
          while (!(await reader.read()).done);
        }, /reader gave up/);
      } finally {
        await proxy.close();
      }
    });
  },
);

serviceTest(
  "S3Storage.put() aborts the multipart upload when the stream fails after 12 MiB",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const storage = ctx.storage({ prefix: "p", partSize: 5 * MiB, concurrency: 2 });
      const data = generated(40 * MiB, { failAt: 12 * MiB });
      const error = await rejection(storage.put("etcd/broken.db", data.stream));
      assert.equal(error.code, "SourceFailed");
      assert.equal(error.key, "etcd/broken.db");
      assert.equal(
        error.message,
        `Cannot upload "etcd/broken.db" to s3://${ctx.bucket}/p: the source stream failed: snapshot stream broke`,
      );
      assert.equal((error.cause as Error).message, "snapshot stream broke");
      assert.deepEqual(await ctx.openUploads(), []);
      assert.equal(await ctx.exists("p/etcd/broken.db"), false);
      assert.deepEqual(await storage.list(""), []);
    });
  },
);

serviceTest(
  "S3Storage.put() aborts the multipart upload and cancels the source when the signal fires",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const storage = ctx.storage({ partSize: 5 * MiB, concurrency: 2 });
      const controller = new AbortController();
      const data = generated(400 * MiB, {
        onPull: (sent) => {
          if (sent >= 12 * MiB) controller.abort(new DOMException("Run cancelled", "AbortError"));
        },
      });
      const error = await rejection(
        storage.put("etcd/cancelled.db", data.stream, { signal: controller.signal }),
      );
      assert.equal(error.code, "Aborted");
      assert.match(
        error.message,
        /^Cannot upload "etcd\/cancelled\.db" to .*: aborted: Run cancelled$/,
      );
      assert.ok(data.cancelled(), "the source stream was not cancelled");
      // s3proxy lists no upload even when a part landed after the abort; such a part stays on
      // disk and makes the DeleteBucket in withBucket fail with BucketNotEmpty.
      assert.deepEqual(await ctx.openUploads(), []);
      assert.equal(await ctx.exists("etcd/cancelled.db"), false);

      const already = generated(MiB);
      const early = await rejection(
        storage.put("etcd/never.db", already.stream, { signal: AbortSignal.abort() }),
      );
      assert.equal(early.code, "Aborted");
      assert.ok(already.cancelled());
      assert.equal(await ctx.exists("etcd/never.db"), false);
    });
  },
);

serviceTest(
  "S3Storage.cleanupStaleUploads() aborts old uploads under the prefix only",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const storage = ctx.storage({ prefix: "team" });
      for (const key of ["team/etcd/left.db", "team/es/other.bin", "elsewhere/etcd/x"]) {
        const open = await ctx.client.send(
          new CreateMultipartUploadCommand({ Bucket: ctx.bucket, Key: key }),
        );
        await ctx.client.send(
          new UploadPartCommand({
            Bucket: ctx.bucket,
            Key: key,
            UploadId: open.UploadId,
            PartNumber: 1,
            Body: new Uint8Array(5 * MiB),
          }),
        );
      }
      assert.equal(await storage.cleanupStaleUploads("etcd/", 3600_000), 0);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.equal(await storage.cleanupStaleUploads("etcd/", 1000), 1);
      assert.deepEqual((await ctx.openUploads()).sort(), ["elsewhere/etcd/x", "team/es/other.bin"]);
      assert.equal(await storage.cleanupStaleUploads("", 0), 1);
      assert.deepEqual(await ctx.openUploads(), ["elsewhere/etcd/x"]);
    });
  },
);

serviceTest(
  "S3Storage.delete() deletes 1001 keys in batches of at most 1000",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const storage = ctx.storage({ prefix: "many" });
      const keys = Array.from({ length: 1001 }, (_, i) => `k/${String(i).padStart(4, "0")}`);
      for (let start = 0; start < keys.length; start += 50) {
        await Promise.all(
          keys.slice(start, start + 50).map((key) =>
            ctx.client.send(
              new PutObjectCommand({ Bucket: ctx.bucket, Key: `many/${key}`, Body: "x" }),
            )
          ),
        );
      }
      await ctx.client.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: "keep", Body: "x" }));
      // s3proxy, like S3, refuses more than 1000 keys in one DeleteObjects.
      await storage.delete([...keys, "k/missing"]);
      assert.deepEqual(await storage.list(""), []);
      assert.equal(await ctx.exists("keep"), true);

      const small = ctx.storage({ deleteBatchSize: 3 });
      for (const key of ["a", "b", "c", "d", "e"]) {
        await ctx.client.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: key, Body: "x" }));
      }
      await small.delete(["a", "b", "c", "d"]);
      assert.deepEqual((await small.list("")).map((object) => object.key), ["e", "keep"]);
    });
  },
);

serviceTest(
  "S3Storage.list() follows continuation tokens and returns keys relative to the prefix",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const keys = ["b/1", "b/2", "b/3", "b/4", "b/5", "bb/6", "c/7"];
      for (const key of [...keys, "outside"]) {
        await ctx.client.send(
          new PutObjectCommand({ Bucket: ctx.bucket, Key: `pre/${key}`, Body: key }),
        );
      }
      // Not "pre" itself: s3proxy's filesystem store cannot hold both "pre" and "pre/x".
      await ctx.client.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: "pre-x", Body: "x" }));
      const storage = ctx.storage({ prefix: "pre/", listPageSize: 2 });
      const all = await storage.list("");
      assert.deepEqual(all.map((object) => object.key), [...keys, "outside"]);
      assert.deepEqual(all.map((object) => object.size), [3, 3, 3, 3, 3, 4, 3, 7]);
      assert.ok(all.every((object) => object.lastModified instanceof Date));
      assert.deepEqual((await storage.list("b/")).map((o) => o.key), keys.slice(0, 5));
      assert.deepEqual((await storage.list("b")).map((o) => o.key), keys.slice(0, 6));
      assert.deepEqual(await storage.list("zzz/"), []);
      await assert.rejects(storage.list("../"), RangeError);
    });
  },
);

serviceTest(
  "S3Storage errors name the storage, key, S3 code and fix, and never the secret",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const missing = ctx.storage({ bucket: `${ctx.bucket}-missing`, prefix: "prefix" });
      const small = await rejection(missing.put("etcd/x.db", generated(10).stream));
      assert.equal(small.code, "NoSuchBucket");
      assert.equal(
        small.message,
        `Cannot upload "etcd/x.db" to s3://${ctx.bucket}-missing/prefix: NoSuchBucket: create the bucket or fix "bucket"`,
      );
      assert.equal((small.cause as Error).name, "NoSuchBucket");

      const big = generated(20 * MiB);
      const multipart = await rejection(
        ctx.storage({ bucket: `${ctx.bucket}-missing`, partSize: 5 * MiB }).put("x", big.stream),
      );
      assert.equal(multipart.code, "NoSuchBucket");
      assert.match(multipart.message, /: cannot start the multipart upload: NoSuchBucket: /);
      assert.ok(big.cancelled(), "the source was not cancelled");

      const wrong = ctx.storage({
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: "not-the-secret-42" },
      });
      const denied = await rejection(wrong.put("x", generated(10).stream));
      assert.equal(denied.code, "SignatureDoesNotMatch");
      assert.match(denied.message, /fix the secret key in "credentials"/);
      assert.ok(!denied.message.includes("not-the-secret-42"));
      assert.ok(!denied.message.includes(s3.secretAccessKey));

      const storage = ctx.storage();
      const absent = await rejection(storage.get("nope.db"));
      assert.equal(absent.code, "NoSuchKey");
      assert.equal(
        absent.message,
        `Cannot download "nope.db" from s3://${ctx.bucket}: NoSuchKey: no such object`,
      );
      await assert.rejects(storage.put("../x", generated(1).stream), RangeError);
      await assert.rejects(storage.delete(["a//b"]), RangeError);

      const refused = new S3Storage({
        bucket: ctx.bucket,
        endpoint: "http://127.0.0.1:1",
        credentials: { accessKeyId: "a", secretAccessKey: "b" },
      });
      try {
        const error = await rejection(refused.list(""));
        assert.equal(error.code, "ECONNREFUSED");
        assert.match(error.message, /nothing listens at "endpoint"/);
      } finally {
        refused.close();
      }
      storage.close();
      storage.close();
      await assert.rejects(storage.list(""), /the storage is closed/);
    });
  },
);

serviceTest(
  "S3Storage.put() of 200 MiB with 5 MiB parts and 2 in flight keeps RSS growth under 100 MiB",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const storage = ctx.storage({ partSize: 5 * MiB, concurrency: 2 });
      // Warm up: load the SDK's code paths before taking the baseline.
      await storage.put("warmup", generated(11 * MiB).stream);
      const baseline = Deno.memoryUsage().rss;
      let peak = baseline;
      const size = 200 * MiB;
      const data = generated(size, {
        onPull: () => (peak = Math.max(peak, Deno.memoryUsage().rss)),
      });
      const result = await storage.put("big/200.bin", data.stream, {
        onProgress: () => (peak = Math.max(peak, Deno.memoryUsage().rss)),
      });
      assert.equal(result.size, size);
      assert.equal(result.sha256, data.sha256());
      const growth = (peak - baseline) / MiB;
      assert.ok(growth < 100, `RSS grew by ${growth.toFixed(1)} MiB`);
      await storage.delete(["big/200.bin", "warmup"]);
    });
  },
);

serviceTest(
  "S3Storage uploads with CRC32 checksums when asked (checksums: when_supported)",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const storage = ctx.storage({ checksums: "when_supported", partSize: 5 * MiB });
      for (const size of [MiB, 12 * MiB]) {
        const data = generated(size);
        const result = await storage.put(`crc/${size}`, data.stream);
        assert.equal(result.sha256, data.sha256());
        assert.deepEqual(await digestStream(await storage.get(`crc/${size}`)), {
          size,
          sha256: data.sha256(),
        });
      }
    });
  },
);

// A throwaway CA and a certificate for 127.0.0.1 it signed (valid 2000–2100), for the TLS test
// only: made with `openssl ca -startdate 20000101000000Z -enddate 21000101000000Z`.
const TEST_CA = `-----BEGIN CERTIFICATE-----
MIIBejCCASCgAwIBAgICEAAwCgYIKoZIzj0EAwIwIzEhMB8GA1UEAwwYc25hcGNy
b24gc3RvcmFnZSB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAw
MDAwWjAjMSEwHwYDVQQDDBhzbmFwY3JvbiBzdG9yYWdlIHRlc3QgQ0EwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAQnZU50pcT7sEcxnuz6tl6Zn8ZWE7TSY51ArGqb
KanvYu0Vr6glA0bUmKYaWCsBSWFpI5TBhPAjT2lGHpcKjrGmo0IwQDAPBgNVHRMB
Af8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQUKdbdGXFKrgRdalmR
jM4vfLGGQgswCgYIKoZIzj0EAwIDSAAwRQIhAMKiFWqt7B+DqSlqHwRGTp3IOjCR
9OIiWF/sDqp3JTa7AiB2qMB+z0A77HfB9S+ugfSgOlKz5mFPOyLPpAN4NCBL9w==
-----END CERTIFICATE-----
`;
const TEST_SERVER_CERT = `-----BEGIN CERTIFICATE-----
MIIBpjCCAU2gAwIBAgICEAEwCgYIKoZIzj0EAwIwIzEhMB8GA1UEAwwYc25hcGNy
b24gc3RvcmFnZSB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAw
MDAwWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjOPQMB
BwNCAATxyrpmhTxxwGWJAzfiDOs2HAfRfJsW5mXuOIAhovtJcBwD/qxRZBA0XtEV
lXbUxwgecqtsYm4BhXKKpVF1uCNYo34wfDAJBgNVHRMEAjAAMBoGA1UdEQQTMBGH
BH8AAAGCCWxvY2FsaG9zdDATBgNVHSUEDDAKBggrBgEFBQcDATAfBgNVHSMEGDAW
gBQp1t0ZcUquBF1qWZGMzi98sYZCCzAdBgNVHQ4EFgQUEr/5q3RzbP20zHt7canz
tBaJZwQwCgYIKoZIzj0EAwIDRwAwRAIgVaY0wi476gh2F0FM/iuNWDrUQtewli5d
Gc3wJ8gySA4CICa5MiOIGUPI1YtvVNXppSnSXXC6vXZKaIRKyfemjiXB
-----END CERTIFICATE-----
`;
const TEST_SERVER_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgB0dsHVn0eLlbObnK
xsvzqCXM0myXcsXda3SSS9twZXGhRANCAATxyrpmhTxxwGWJAzfiDOs2HAfRfJsW
5mXuOIAhovtJcBwD/qxRZBA0XtEVlXbUxwgecqtsYm4BhXKKpVF1uCNY
-----END PRIVATE KEY-----
`;

serviceTest(
  "S3Storage trusts a private CA from caFile for an https endpoint",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const proxy = startProxy(Number(new URL(s3.endpoint).port), {
        cert: TEST_SERVER_CERT,
        key: TEST_SERVER_KEY,
      });
      const caFile = await Deno.makeTempFile({ suffix: ".pem" });
      try {
        await Deno.writeTextFile(caFile, TEST_CA);
        const endpoint = `https://127.0.0.1:${proxy.port}`;
        const untrusted = await rejection(ctx.storage({ endpoint }).list(""));
        assert.match(untrusted.message, /set "ca_file" to the CA bundle that signed it/);

        const storage = ctx.storage({ endpoint, caFile, partSize: 5 * MiB });
        const data = generated(11 * MiB);
        const result = await storage.put("tls/object", data.stream);
        assert.equal(result.sha256, data.sha256());
        assert.deepEqual(await digestStream(await storage.get("tls/object")), {
          size: 11 * MiB,
          sha256: data.sha256(),
        });
        assert.throws(
          () => ctx.storage({ endpoint, caFile: `${caFile}.missing` }),
          /^Error: Cannot read "ca_file" ".*\.missing": .*: fix the path$/,
        );
      } finally {
        await Deno.remove(caFile);
        await proxy.close();
      }
    });
  },
);
