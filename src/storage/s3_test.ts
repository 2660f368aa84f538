import assert from "node:assert/strict";
import { StorageError } from "./mod.ts";
import { s3PartSize, S3Storage } from "./s3.ts";

const MiB = 1024 * 1024;
const TiB = 1024 * 1024 * MiB;
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI-example-secret" };

Deno.test("s3PartSize() defaults to 16 MiB and grows so that 10,000 parts cover maxObjectSize", () => {
  assert.equal(s3PartSize({}), 16 * MiB);
  assert.equal(s3PartSize({ partSize: 5 * MiB }), 5 * MiB);
  assert.equal(s3PartSize({ maxObjectSize: 100 * 1024 * MiB }), 16 * MiB);
  assert.equal(s3PartSize({ maxObjectSize: TiB }), 105 * MiB);
  assert.equal(s3PartSize({ partSize: 5 * MiB, maxObjectSize: 5 * TiB }), 525 * MiB);
  assert.ok(s3PartSize({ maxObjectSize: 5 * TiB }) * 10_000 >= 5 * TiB);
  assert.throws(
    () => s3PartSize({ partSize: 4 * MiB }),
    /^RangeError: Invalid "part_size" 4194304/,
  );
  assert.throws(() => s3PartSize({ partSize: 5 * MiB + 0.5 }), RangeError);
  assert.throws(() => s3PartSize({ maxObjectSize: 6 * TiB }), /at most 5 TiB/);
  assert.throws(() => s3PartSize({ maxObjectSize: 0 }), RangeError);
});

Deno.test("S3Storage describes itself as s3://bucket/prefix", () => {
  const plain = new S3Storage({ bucket: "backups", region: "eu-west-1", credentials });
  const nested = new S3Storage({ bucket: "backups", prefix: "/prod/etcd/", region: "eu-west-1" });
  try {
    assert.equal(plain.description, "s3://backups");
    assert.equal(nested.description, "s3://backups/prod/etcd");
    assert.equal(plain.partSize, 16 * MiB);
  } finally {
    plain.close();
    plain.close();
    nested.close();
  }
});

Deno.test("S3Storage rejects bad options with RangeError and never echoes a secret", () => {
  const base = { bucket: "b", endpoint: "http://127.0.0.1:9", credentials };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ bucket: "" }, /Invalid "bucket"/],
    [{ bucket: "a/b" }, /Invalid "bucket"/],
    [{ prefix: "a/../b" }, /Invalid "prefix" "a\/\.\.\/b": it contains a "\.\." segment/],
    [{ partSize: MiB }, /Invalid "part_size"/],
    [{ concurrency: 0 }, /Invalid "concurrency" 0/],
    [{ partRetries: -1 }, /Invalid "partRetries"/],
    [{ deleteBatchSize: 1001 }, /Invalid "deleteBatchSize"/],
    [{ kmsKeyId: "alias/backups" }, /"kms_key_id": it needs "sse" set to "aws:kms"/],
    [{ checksums: "always" }, /Invalid "checksums"/],
    [{ endpoint: "minio:9000" }, /Invalid "endpoint" "minio:9000": use http/],
    [{ endpoint: "not a url" }, /Invalid "endpoint"/],
    [{ credentials: { accessKeyId: "a", secretAccessKey: "" } }, /Invalid "credentials"/],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => new S3Storage({ ...base, ...options } as never),
      (error: unknown) => error instanceof RangeError && message.test(error.message),
      JSON.stringify(options),
    );
  }
  assert.throws(
    () => new S3Storage({ ...base, endpoint: "http://user:hunter2@minio:9000" }),
    (error: unknown) =>
      error instanceof RangeError && /user name or password/.test(error.message) &&
      !error.message.includes("hunter2"),
  );
});

Deno.test("S3Storage.put() rejects a bad key before any request and cancels the body", async () => {
  const storage = new S3Storage({ bucket: "b", endpoint: "http://127.0.0.1:9", credentials });
  try {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      cancel() {
        cancelled = true;
      },
    });
    await assert.rejects(
      storage.put("../etc/passwd", body),
      /^RangeError: Cannot upload "\.\.\/etc\/passwd" to s3:\/\/b: invalid key: /,
    );
    assert.ok(cancelled);
    await assert.rejects(storage.list("/abs"), RangeError);
    await assert.rejects(storage.cleanupStaleUploads("", -1), RangeError);
  } finally {
    storage.close();
  }
  await assert.rejects(storage.get("x"), /^StorageError: .*: the storage is closed$/);
});

Deno.test("S3Storage without a region says how to set one", async () => {
  const saved = new Map<string, string | undefined>();
  for (const name of ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"]) {
    saved.set(name, Deno.env.get(name));
    Deno.env.delete(name);
  }
  Deno.env.set("AWS_CONFIG_FILE", "/nonexistent/snapcron/aws-config");
  // Static credentials and no region: the SDK fails before any request is sent.
  const storage = new S3Storage({ bucket: "backups", credentials });
  try {
    const error = await storage.list("").then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(error.code, "RegionMissing");
    assert.equal(
      error.message,
      `Cannot list "" in s3://backups: RegionMissing: set "region" or AWS_REGION`,
    );
  } finally {
    storage.close();
    for (const [name, value] of saved) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
});
