/** Helpers for tests against the real S3 test server (s3proxy): fresh buckets, raw checks. */
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { S3Storage, type S3StorageOptions } from "../src/storage/s3.ts";
import { type S3TestEnv, uniqueName } from "./_helpers.ts";

export function rawClient(s3: S3TestEnv): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

export interface BucketContext {
  bucket: string;
  /** A client that bypasses S3Storage, to check what really is in the bucket. */
  client: S3Client;
  /** An S3Storage on the bucket, closed after the test. */
  storage(options?: Partial<S3StorageOptions>): S3Storage;
  /** Keys of the multipart uploads still open in the bucket. */
  openUploads(): Promise<string[]>;
  /** Whether `key` (a full key) exists. */
  exists(key: string): Promise<boolean>;
}

/** Runs fn against a fresh bucket, then empties and deletes it. */
export async function withBucket(
  s3: S3TestEnv,
  fn: (ctx: BucketContext) => Promise<void>,
): Promise<void> {
  const client = rawClient(s3);
  const bucket = uniqueName("snapcron-storage");
  const storages: S3Storage[] = [];
  const ctx: BucketContext = {
    bucket,
    client,
    storage(options = {}) {
      const storage = new S3Storage({
        bucket,
        endpoint: s3.endpoint,
        region: s3.region,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
        ...options,
      });
      storages.push(storage);
      return storage;
    },
    async openUploads() {
      const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return (out.Uploads ?? []).map((upload) => upload.Key ?? "");
    },
    async exists(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (error) {
        if ((error as { name?: string }).name === "NotFound") return false;
        throw error;
      }
    },
  };
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    try {
      await fn(ctx);
    } finally {
      for (const storage of storages) storage.close();
      await emptyBucket(client, bucket);
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    }
  } finally {
    client.destroy();
  }
}

export async function emptyBucket(client: S3Client, bucket: string): Promise<void> {
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const upload of uploads.Uploads ?? []) {
    await client.send(
      new AbortMultipartUploadCommand({
        Bucket: bucket,
        Key: upload.Key,
        UploadId: upload.UploadId,
      }),
    );
  }
  for (;;) {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (listed.Contents ?? []).map((object) => ({ Key: object.Key }));
    if (keys.length === 0) return;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  }
}
