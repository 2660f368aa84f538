// A backup in S3 is whole or absent, never half: S3Storage uploads through a relay that injects
// faults (S3 errors, connections reset mid-body, answers lost after the server acted, requests
// swallowed), and snapcron killed with SIGKILL in the middle of a real upload.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
} from "@aws-sdk/client-s3";
import { StorageError } from "../src/storage/mod.ts";
import { collect, snapcron, spawnSnapcron, tempConfig, waitFor } from "./_cli.ts";
import {
  type Fault,
  FAULT_KINDS,
  type ProxiedRequest,
  randomFaults,
  type S3Operation,
  s3Operation,
  seededRandom,
  startFaultProxy,
} from "./_fault_proxy.ts";
import { type S3TestEnv, serviceTest } from "./_helpers.ts";
import { type BucketContext, withBucket } from "./_s3.ts";

const MiB = 1024 * 1024;
const SOAK = Deno.env.get("SNAPCRON_SOAK") === "1";
/** The PRNG seed of the relay; set SNAPCRON_FAULT_SEED to explore other sequences. */
const SEED = Number(Deno.env.get("SNAPCRON_FAULT_SEED") ?? 20261125);
const encoder = new TextEncoder();

/** One line on stderr, beside the test's name: what was injected and how the uploads ended. */
function report(line: string): void {
  Deno.stderr.writeSync(encoder.encode(`  ${line}\n`));
}

interface Source {
  stream: ReadableStream<Uint8Array>;
  /** SHA-256 of every byte emitted, once the stream ended. */
  sha256(): string;
}

/** `size` pseudo-random bytes (xorshift32 from `seed`) in 64 KiB chunks, length unknown. */
function source(size: number, seed: number): Source {
  const hash = createHash("sha256");
  let state = seed >>> 0 || 1;
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= size) return controller.close();
      const length = Math.min(64 * 1024, size - sent);
      const words = new Uint32Array(Math.ceil(length / 4));
      for (let i = 0; i < words.length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        words[i] = state >>> 0;
      }
      const chunk = new Uint8Array(words.buffer, 0, length);
      hash.update(chunk);
      sent += length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  let digest: string | undefined;
  return { stream, sha256: () => (digest ??= hash.digest("hex")) };
}

/** SHA-256 and size of an object, read straight from the S3 server (not through the relay). */
async function storedDigest(ctx: BucketContext, key: string) {
  const out = await ctx.client.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: key }));
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of out.Body!.transformToWebStream() as ReadableStream<Uint8Array>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest("hex") };
}

/** Every key in the bucket under `prefix`, straight from the server. */
async function storedKeys(ctx: BucketContext, prefix = ""): Promise<string[]> {
  const out = await ctx.client.send(
    new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: prefix }),
  );
  return (out.Contents ?? []).map((object) => object.Key ?? "").sort();
}

Deno.test("The fault relay tells S3 requests apart and picks faults reproducibly", () => {
  const cases: [string, string, S3Operation][] = [
    ["PUT", "/b/k?partNumber=2&uploadId=u&x-id=UploadPart", "UploadPart"],
    ["POST", "/b/k?uploadId=u", "CompleteMultipartUpload"],
    ["POST", "/b/k?uploads", "CreateMultipartUpload"],
    ["DELETE", "/b/k?uploadId=u&x-id=AbortMultipartUpload", "AbortMultipartUpload"],
    ["GET", "/b/k?max-parts=1&uploadId=u", "ListParts"],
    ["GET", "/b?uploads&prefix=p", "ListMultipartUploads"],
    ["PUT", "/b/a/b/c.bin?x-id=PutObject", "PutObject"],
    ["GET", "/b?list-type=2&prefix=p", "ListObjectsV2"],
    ["POST", "/b?delete", "DeleteObjects"],
    ["HEAD", "/b/k", "HeadObject"],
    ["PUT", "/b", "Other"],
  ];
  for (const [method, target, operation] of cases) {
    assert.equal(s3Operation(method, target), operation, `${method} ${target}`);
  }
  const choose = randomFaults({ rate: 0.5, operations: ["UploadPart"], kinds: FAULT_KINDS });
  const request: ProxiedRequest = {
    operation: "UploadPart",
    method: "PUT",
    target: "/b/k",
    key: "k",
    length: 100,
  };
  const picks = (seed: number) => {
    const random = seededRandom(seed);
    return Array.from({ length: 200 }, () => choose(request, random));
  };
  assert.deepEqual(picks(7), picks(7));
  const faults = picks(7).filter((fault) => fault !== undefined);
  assert.ok(faults.length > 70 && faults.length < 130, `${faults.length} faults in 200`);
  assert.deepEqual(new Set(faults.map((fault) => fault.kind)), new Set(FAULT_KINDS));
  assert.ok(faults.every((fault) => (fault.cutAt ?? 0) < 120));
  const other: ProxiedRequest = { ...request, operation: "CompleteMultipartUpload" };
  assert.equal(choose(other, () => 0), undefined, "only the chosen operations");
});

/** Options of {@linkcode uploadsUnderFaults}. */
interface FaultRun {
  /** One upload per entry, of that many bytes, one after another. */
  sizes: number[];
  /** Share of the chosen requests that get a fault. */
  rate: number;
  operations?: S3Operation[];
  partRetries?: number;
  /** A swallowed request fails after this much silence and is retried: short keeps tests short. */
  idleTimeoutMs: number;
}

/**
 * Consecutive uploads through the relay: each completes with the right bytes (read back straight
 * from the server) or rejects with a StorageError and leaves no object, and in the end no
 * multipart upload is open and the bucket holds exactly the completed objects.
 */
async function uploadsUnderFaults(s3: S3TestEnv, run: FaultRun): Promise<void> {
  await withBucket(s3, async (ctx) => {
    const proxy = startFaultProxy({
      upstream: s3.endpoint,
      seed: SEED,
      rate: run.rate,
      ...(run.operations ? { operations: run.operations } : {}),
      stallMs: 30_000,
    });
    const started = Date.now();
    const completed: string[] = [];
    const failed: string[] = [];
    try {
      const storage = ctx.storage({
        endpoint: proxy.endpoint,
        partSize: 5 * MiB,
        concurrency: 3,
        idleTimeoutMs: run.idleTimeoutMs,
        ...(run.partRetries === undefined ? {} : { partRetries: run.partRetries }),
      });
      for (const [i, size] of run.sizes.entries()) {
        const key = `faults/upload-${String(i).padStart(2, "0")}.bin`;
        const data = source(size, SEED + i);
        const began = Date.now();
        const outcome = await storage.put(key, data.stream).then(
          (result) => ({ result }),
          (error: unknown) => ({ error }),
        );
        const seconds = ((Date.now() - began) / 1000).toFixed(1);
        if ("result" in outcome) {
          assert.equal(outcome.result.size, size, key);
          assert.equal(outcome.result.sha256, data.sha256(), key);
          assert.deepEqual(
            await storedDigest(ctx, key),
            { size, sha256: data.sha256() },
            `${key}: the object in S3 is not the bytes that were sent`,
          );
          completed.push(key);
          report(`${key} (${size / MiB} MiB): completed in ${seconds} s`);
        } else {
          const error = outcome.error;
          assert.ok(error instanceof StorageError, `${key}: expected a StorageError, got ${error}`);
          assert.equal(error.action, "upload");
          assert.equal(error.key, key);
          assert.equal(await ctx.exists(key), false, `${key} failed but an object is there`);
          failed.push(key);
          report(`${key} (${size / MiB} MiB): failed in ${seconds} s: ${error.message}`);
        }
      }
      assert.deepEqual(await ctx.openUploads(), [], "a multipart upload was left open");
      assert.deepEqual(
        await storedKeys(ctx),
        completed.sort(),
        "only completed uploads are objects",
      );
      assert.ok(proxy.injected.length > 0, "no fault was injected: the test proved nothing");
    } finally {
      await proxy.close();
    }
    const total = ((Date.now() - started) / 1000).toFixed(1);
    report(
      `${run.sizes.length} uploads at ${run.rate * 100}% faults: ${completed.length} completed, ` +
        `${failed.length} failed in ${total} s; ${proxy.summary()}; seed ${SEED}`,
    );
  });
}

serviceTest(
  "S3Storage under 20% injected faults: 5 uploads of 40 MiB each end whole or absent",
  { services: ["s3"] },
  ({ s3 }) =>
    uploadsUnderFaults(s3, { sizes: Array(5).fill(40 * MiB), rate: 0.2, idleTimeoutMs: 3000 }),
);

const SOAK_NAME =
  "S3Storage under 20% injected faults: 20 uploads of 200 MiB each end whole or absent";
if (SOAK) {
  serviceTest(
    SOAK_NAME,
    { services: ["s3"] },
    ({ s3 }) =>
      uploadsUnderFaults(s3, { sizes: Array(20).fill(200 * MiB), rate: 0.2, idleTimeoutMs: 3000 }),
  );
} else {
  Deno.test({
    name: `${SOAK_NAME} [ignored: takes minutes; set SNAPCRON_SOAK=1]`,
    ignore: true,
    fn() {},
  });
}

serviceTest(
  "S3Storage under 50% injected faults on every upload request, parts not retried: failures leave nothing",
  { services: ["s3"] },
  ({ s3 }) =>
    uploadsUnderFaults(s3, {
      // Single puts (below 5 MiB) and multipart uploads.
      sizes: [40 * MiB, 3 * MiB, 20 * MiB, MiB, 12 * MiB, 40 * MiB],
      rate: 0.5,
      operations: ["PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"],
      partRetries: 0,
      idleTimeoutMs: 1000,
    }),
);

serviceTest(
  "S3Storage keeps an object whose every PutObject or Complete answer is lost, and closes an upload whose creation answer is lost",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      // The server acts on the request, the client never hears so: every answer is cut (Create:
      // only the first). Reporting a failure would orphan a whole object or an open upload.
      const cases: [S3Operation, number][] = [
        ["PutObject", 3 * MiB],
        ["CompleteMultipartUpload", 12 * MiB],
        ["CreateMultipartUpload", 12 * MiB],
      ];
      for (const [operation, size] of cases) {
        let cut = 0;
        const proxy = startFaultProxy({
          upstream: s3.endpoint,
          choose: (request) =>
            request.operation === operation &&
              (operation !== "CreateMultipartUpload" || cut++ === 0)
              ? { kind: "resetResponse", cutAt: 0 }
              : undefined,
        });
        try {
          const storage = ctx.storage({ endpoint: proxy.endpoint, partSize: 5 * MiB });
          const key = `lost/${operation}.bin`;
          const data = source(size, size);
          const result = await storage.put(key, data.stream);
          assert.equal(result.sha256, data.sha256(), operation);
          assert.ok(proxy.faults.resetResponse >= 1, operation);
          assert.deepEqual(await storedDigest(ctx, key), { size, sha256: data.sha256() });
          assert.deepEqual(await ctx.openUploads(), [], `${operation}: an upload is left open`);
        } finally {
          await proxy.close();
        }
      }
    });
  },
);

serviceTest(
  "S3Storage fails a swallowed request after its idle timeout instead of hanging",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const proxy = startFaultProxy({
        upstream: s3.endpoint,
        stallMs: 30_000,
        choose: (request) => request.operation === "UploadPart" ? { kind: "stall" } : undefined,
      });
      try {
        const storage = ctx.storage({
          endpoint: proxy.endpoint,
          partSize: 5 * MiB,
          partRetries: 0,
          idleTimeoutMs: 500,
        });
        const began = Date.now();
        const error = await storage.put("stalled/part.bin", source(12 * MiB, 9).stream).then(
          () => undefined,
          (error: unknown) => error,
        );
        assert.ok(error instanceof StorageError, `expected a StorageError, got ${error}`);
        assert.equal(error.code, "ETIMEDOUT");
        assert.match(error.message, /part \d+ failed: ETIMEDOUT: the connection timed out/);
        assert.ok(Date.now() - began < 20_000, "the idle timeout did not cut the stall short");
        assert.equal(await ctx.exists("stalled/part.bin"), false);
        assert.deepEqual(await ctx.openUploads(), []);
      } finally {
        await proxy.close();
      }
    });
  },
);

serviceTest(
  "S3Storage times out a request that Deno re-sent after its kept-alive connection was reset",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      // The first Complete goes out on a connection the parts used; its answer is cut. Deno
      // sends it again on a fresh connection, unseen by the SDK, and that one is swallowed.
      const plan: Fault[] = [{ kind: "resetResponse", cutAt: 0 }, { kind: "stall" }];
      const proxy = startFaultProxy({
        upstream: s3.endpoint,
        stallMs: 30_000,
        choose: (request) =>
          request.operation === "CompleteMultipartUpload" ? plan.shift() : undefined,
      });
      try {
        const storage = ctx.storage({
          endpoint: proxy.endpoint,
          partSize: 5 * MiB,
          idleTimeoutMs: 500,
        });
        const data = source(12 * MiB, 11);
        const began = Date.now();
        const result = await storage.put("resent/complete.bin", data.stream);
        assert.equal(result.sha256, data.sha256());
        assert.deepEqual(proxy.faults, {
          error500: 0,
          error503: 0,
          resetRequest: 0,
          resetResponse: 1,
          stall: 1,
        });
        assert.ok(
          Date.now() - began < 15_000,
          `the re-sent request hung for ${Date.now() - began} ms: no idle timeout on its socket`,
        );
        assert.deepEqual(await storedDigest(ctx, "resent/complete.bin"), {
          size: 12 * MiB,
          sha256: data.sha256(),
        });
        assert.deepEqual(await ctx.openUploads(), []);
      } finally {
        await proxy.close();
      }
    });
  },
);

/** A config with a 300 MiB command dump and a small one under the same key prefix. */
function killConfig(s3: S3TestEnv, bucket: string, extra = ""): Promise<string> {
  return tempConfig(`
status: { listen: "0" }
storage:
  s3:
    type: s3
    bucket: ${bucket}
    endpoint: ${s3.endpoint}
    region: ${s3.region}
    access_key_id: ${s3.accessKeyId}
    secret_access_key: ${s3.secretAccessKey}
    part_size: 5MiB
jobs:
  big:
    schedule: "@yearly"
    shell: "head -c ${300 * MiB} /dev/urandom"
    upload: { storage: s3, key: "backups/{job}-{time}-{run}.bin" }
  small:
    schedule: "@yearly"
    shell: "echo a small backup"
    upload: { storage: s3, key: "backups/{job}-{time}-{run}.bin" }
${extra}`);
}

/** Starts `snapcron once big`, SIGKILLs it once parts of its upload are stored; the upload's key. */
async function killMidUpload(ctx: BucketContext, config: string): Promise<string> {
  const child = spawnSnapcron(["once", "big", "--config", config]);
  const stderr = collect(child.stderr);
  const stdout = collect(child.stdout);
  let key: string;
  try {
    key = await waitFor("parts of the big upload to be stored", async () => {
      const listed = await ctx.client.send(
        new ListMultipartUploadsCommand({ Bucket: ctx.bucket, Prefix: "backups/big-" }),
      );
      const upload = listed.Uploads?.[0];
      if (upload === undefined) return undefined;
      const parts = await ctx.client.send(
        new ListPartsCommand({ Bucket: ctx.bucket, Key: upload.Key, UploadId: upload.UploadId }),
      );
      return (parts.Parts ?? []).length > 0 ? upload.Key : undefined;
    }, 30_000);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await Promise.all([stdout.done, stderr.done]);
  }
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", `snapcron ended before the kill:\n${stderr.text()}`);
  assert.ok(key !== undefined);
  return key;
}

serviceTest(
  "kill -9 during a 300 MiB upload leaves no object; a later backup under the prefix removes the upload",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      const config = await killConfig(s3, ctx.bucket, "    stale_uploads_after: 0s\n");
      try {
        const key = await killMidUpload(ctx, config);
        assert.deepEqual(await storedKeys(ctx), [], `an object appeared for the killed ${key}`);
        assert.deepEqual(await ctx.openUploads(), [key], "the killed run's upload is left open");

        const small = await snapcron(["once", "small", "--config", config]);
        assert.equal(small.code, 0, small.stderr);
        assert.match(small.stderr, /Removed 1 (stale )?unfinished upload\(s\)/);
        assert.deepEqual(await ctx.openUploads(), [], "the stale upload is still there");
        const keys = await storedKeys(ctx);
        assert.equal(keys.length, 2, `expected the small backup and its manifest: ${keys}`);
        assert.ok(keys.every((stored) => stored.startsWith("backups/small-")), `${keys}`);
      } finally {
        await Deno.remove(config);
      }
    });
  },
);

serviceTest(
  "kill -9 during a 300 MiB upload: the next snapcron run removes the upload at start",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (ctx) => {
      // stale_uploads_after stays at its default (24h): only the clean-up at start can do it.
      const config = await killConfig(s3, ctx.bucket);
      try {
        const key = await killMidUpload(ctx, config);
        assert.deepEqual(await storedKeys(ctx), [], `an object appeared for the killed ${key}`);
        assert.deepEqual(await ctx.openUploads(), [key]);

        const child = spawnSnapcron(["run", "--config", config]);
        const stderr = collect(child.stderr);
        const stdout = collect(child.stdout);
        try {
          await waitFor("the clean-up at start", async () => {
            const open = await ctx.openUploads();
            return open.length === 0 ? true : undefined;
          }, 20_000);
        } finally {
          child.kill("SIGTERM");
          await Promise.all([stdout.done, stderr.done]);
        }
        assert.equal((await child.status).code, 0, stderr.text());
        assert.match(stderr.text(), /Removed 1 unfinished upload\(s\) left by an earlier run/);
        assert.deepEqual(await storedKeys(ctx), []);
      } finally {
        await Deno.remove(config);
      }
    });
  },
);
