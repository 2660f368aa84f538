/**
 * snapcron's side of the `s3_upload` benchmark, run as its own `deno run` process so that it is
 * measured like the peers: streams standard input into `s3://BUCKET/KEY` with
 * `S3Storage.put()` (16 MiB parts, 4 in flight) and prints the stored size.
 *
 *   deno run --allow-net --allow-env --allow-read --allow-sys=hostname,osRelease scripts/bench/_s3_put.ts BUCKET KEY
 *   (endpoint and credentials from the SNAPCRON_TEST_S3_* variables)
 */
// s3.ts itself: the storage folder's mod.ts may load the S3 code lazily.
import { S3Storage } from "../../src/storage/s3.ts";
import { MiB, print, s3Env } from "./_common.ts";

async function main(): Promise<void> {
  const [bucket, key] = Deno.args;
  if (bucket === undefined || key === undefined) {
    throw new TypeError("Usage: _s3_put.ts BUCKET KEY < data");
  }
  const s3 = s3Env();
  const storage = new S3Storage({
    bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    partSize: 16 * MiB,
    concurrency: 4,
  });
  try {
    const result = await storage.put(key, Deno.stdin.readable);
    print(JSON.stringify({ size: result.size, sha256: result.sha256 }));
  } finally {
    storage.close();
  }
}

if (import.meta.main) await main();
