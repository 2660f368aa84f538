// Smoke test of the S3 test server (s3proxy) with the AWS SDK the project uses.
import assert from "node:assert/strict";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { type S3TestEnv, serviceTest, uniqueName } from "./_helpers.ts";

const MiB = 1024 * 1024;

function createClient(s3: S3TestEnv): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true,
    // The SDK's default CRC checksums and aws-chunked trailers are not for every S3 server.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  // getRandomValues fills at most 64 KiB per call.
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(offset + 65536, size)));
  }
  return bytes;
}

/** Runs fn against a fresh bucket, then empties and deletes it and destroys the client. */
async function withBucket(
  s3: S3TestEnv,
  fn: (client: S3Client, bucket: string) => Promise<void>,
): Promise<void> {
  const client = createClient(s3);
  const bucket = uniqueName("snapcron-smoke");
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    try {
      await fn(client, bucket);
    } finally {
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
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      for (const object of listed.Contents ?? []) {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    }
  } finally {
    client.destroy();
  }
}

serviceTest(
  "s3proxy stores, lists, returns and deletes an object",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (client, bucket) => {
      const key = "smoke/object.bin";
      const data = randomBytes(256 * 1024 + 7);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));

      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = await got.Body?.transformToByteArray();
      assert.ok(bytes, "GetObject returned no body");
      assert.equal(bytes.length, data.length);
      assert.ok(bytes.every((byte, i) => byte === data[i]), "object bytes differ");

      const listed = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: "smoke/" }),
      );
      assert.deepEqual(listed.Contents?.map((object) => [object.Key, object.Size]), [
        [key, data.length],
      ]);

      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      const after = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      assert.equal(after.KeyCount, 0);
    });
  },
);

serviceTest(
  "s3proxy completes a multipart upload and lists and aborts an open one",
  { services: ["s3"] },
  async ({ s3 }) => {
    await withBucket(s3, async (client, bucket) => {
      const key = "smoke/multipart.bin";
      const parts = [randomBytes(5 * MiB), randomBytes(MiB + 3)];
      const created = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }),
      );
      const uploadId = created.UploadId;
      assert.ok(uploadId, "CreateMultipartUpload returned no UploadId");
      const etags: string[] = [];
      for (const [index, part] of parts.entries()) {
        const uploaded = await client.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: index + 1,
            Body: part,
          }),
        );
        assert.ok(uploaded.ETag, `UploadPart ${index + 1} returned no ETag`);
        etags.push(uploaded.ETag);
      }
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: {
            Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })),
          },
        }),
      );

      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = await got.Body?.transformToByteArray();
      assert.ok(bytes, "GetObject returned no body");
      const expected = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
      expected.set(parts[0] ?? [], 0);
      expected.set(parts[1] ?? [], parts[0]?.length ?? 0);
      assert.equal(bytes.length, expected.length);
      assert.ok(bytes.every((byte, i) => byte === expected[i]), "multipart object bytes differ");

      const open = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: "smoke/abandoned.bin" }),
      );
      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      assert.deepEqual(uploads.Uploads?.map((upload) => upload.UploadId), [open.UploadId]);
      await client.send(
        new AbortMultipartUploadCommand({
          Bucket: bucket,
          Key: "smoke/abandoned.bin",
          UploadId: open.UploadId,
        }),
      );
      const none = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      assert.equal(none.Uploads?.length ?? 0, 0);
    });
  },
);
