/**
 * S3 (and S3-compatible) storage on `@aws-sdk/client-s3` commands. Uploads stream through
 * {@linkcode uploadStream}: one PutObject below one part, else a multipart upload that is aborted
 * on any failure, so a key holds a whole object or nothing.
 */
import { formatBytes } from "./_format.ts";
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  type ServerSideEncryption,
  type StorageClass,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Socket } from "node:net";
import { cancelBody, delay, errorText } from "./_async.ts";
import { keyProblem, normalizePrefix, prefixProblem } from "./_keys.ts";
import {
  md5Base64,
  type MultipartTarget,
  UploadFailure,
  type UploadStep,
  uploadStream,
} from "./_multipart.ts";
import {
  type DeleteFailure,
  type PutOptions,
  type PutResult,
  type Storage,
  type StorageAction,
  StorageDeleteError,
  StorageError,
  storageMessage,
  type StorageSignalOptions,
  type StoredObject,
} from "./_types.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** S3's limits on multipart uploads. */
const MIN_PART_SIZE = 5 * MiB;
const MAX_PART_SIZE = 5 * GiB;
const MAX_PARTS = 10_000;
const MAX_OBJECT_SIZE = 5 * 1024 * GiB;
const DEFAULT_PART_SIZE = 16 * MiB;
/** How long aborting a failed upload may take; it runs after the caller's signal fired. */
const ABORT_TIMEOUT_MS = 60_000;
/** After a failure or abort, how long parts in flight may finish before they are cut. */
const IN_FLIGHT_GRACE_MS = 10_000;
/** How much earlier than ours a lost attempt of our CreateMultipartUpload may have begun. */
const UNSEEN_UPLOAD_WINDOW_MS = 10 * 60_000;

/** Static credentials; without them the SDK's default chain is used. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Options of {@linkcode S3Storage}. */
export interface S3StorageOptions {
  bucket: string;
  /** Folder inside the bucket; keys are relative to it. */
  prefix?: string;
  /** Defaults to the SDK's (`AWS_REGION`, profile), or `us-east-1` with an `endpoint`. */
  region?: string;
  /** An S3-compatible server, e.g. `http://minio:9000`. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`); true by default when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** Without them: environment, profile, web identity, container, then instance credentials. */
  credentials?: S3Credentials;
  sse?: "AES256" | "aws:kms";
  /** KMS key for `sse: "aws:kms"`; the account's default key when absent. */
  kmsKeyId?: string;
  /** E.g. `STANDARD_IA`, `GLACIER_IR`. */
  storageClass?: string;
  /** PEM CA bundle trusted for TLS to `endpoint`, instead of the system's. */
  caFile?: string;
  /**
   * `when_required` (default) sends checksums only where S3 demands them, which every
   * S3-compatible server accepts; `when_supported` adds CRC32 to every upload request.
   */
  checksums?: "when_required" | "when_supported";
  /** Bytes per part, from 5 MiB; 16 MiB by default. Memory: about `partSize * (concurrency + 1)`. */
  partSize?: number;
  /** Parts in flight; 4 by default. */
  concurrency?: number;
  /** Largest object expected: the part size grows so that 10,000 parts cover it. */
  maxObjectSize?: number;
  /** Extra attempts per part after a retryable failure, on top of the SDK's own; 3 by default. */
  partRetries?: number;
  /**
   * A request whose connection moves no byte for this long fails (and is retried like a reset);
   * 60 s by default. Without it a server or middlebox that swallows a request hangs the backup.
   */
  idleTimeoutMs?: number;
  /** Keys per DeleteObjects request, at most (and by default) 1000. */
  deleteBatchSize?: number;
  /** Keys per ListObjectsV2 or ListMultipartUploads page, at most (and by default) 1000. */
  listPageSize?: number;
}

/** The part size used for `options`: `partSize` (16 MiB), raised to cover `maxObjectSize`. */
export function s3PartSize(options: Pick<S3StorageOptions, "partSize" | "maxObjectSize">): number {
  const { partSize, maxObjectSize } = options;
  if (partSize !== undefined) {
    if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
      throw new RangeError(
        `Invalid "part_size" ${partSize}: S3 parts are whole numbers of bytes from 5 MiB to 5 GiB`,
      );
    }
  }
  let size = partSize ?? DEFAULT_PART_SIZE;
  if (maxObjectSize !== undefined) {
    if (!Number.isSafeInteger(maxObjectSize) || maxObjectSize < 1) {
      throw new RangeError(`Invalid "max_object_size" ${maxObjectSize}: expected a positive size`);
    }
    if (maxObjectSize > MAX_OBJECT_SIZE) {
      throw new RangeError(
        `Invalid "max_object_size" ${formatBytes(maxObjectSize)}: S3 objects are at most 5 TiB`,
      );
    }
    // Whole MiB keeps the parts tidy; 10,000 of them still fit 5 TiB below 5 GiB each.
    const needed = Math.ceil(maxObjectSize / MAX_PARTS / MiB) * MiB;
    size = Math.max(size, needed);
  }
  return size;
}

/** A bucket (and prefix) on S3 or an S3-compatible server. */
export class S3Storage implements Storage {
  readonly description: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #options: S3StorageOptions;
  readonly #partSize: number;
  readonly #concurrency: number;
  readonly #partRetries: number;
  readonly #deleteBatchSize: number;
  readonly #listPageSize: number;
  #closed = false;

  /** Validates `options` (RangeError) and reads `caFile`; no request is sent yet. */
  constructor(options: S3StorageOptions) {
    if (
      typeof options.bucket !== "string" || options.bucket === "" || /[/\s]/.test(options.bucket)
    ) {
      throw new RangeError(
        `Invalid "bucket" "${options.bucket}": expected a bucket name without "/" or spaces`,
      );
    }
    this.#bucket = options.bucket;
    this.#prefix = normalizePrefix(options.prefix, '"prefix"');
    this.#options = options;
    this.#partSize = s3PartSize(options);
    this.#concurrency = wholeNumber("concurrency", options.concurrency, 4, 1, 64);
    this.#partRetries = wholeNumber("partRetries", options.partRetries, 3, 0, 20);
    this.#deleteBatchSize = wholeNumber("deleteBatchSize", options.deleteBatchSize, 1000, 1, 1000);
    this.#listPageSize = wholeNumber("listPageSize", options.listPageSize, 1000, 1, 1000);
    if (options.kmsKeyId !== undefined && options.sse !== "aws:kms") {
      throw new RangeError(`Invalid "kms_key_id": it needs "sse" set to "aws:kms"`);
    }
    this.description = `s3://${this.#bucket}${this.#prefix ? `/${this.#prefix.slice(0, -1)}` : ""}`;
    this.#client = new S3Client(clientConfig(options));
  }

  /** The part size in use, after `maxObjectSize` was taken into account. */
  get partSize(): number {
    return this.#partSize;
  }

  /** Streams `body` to `key` (see {@linkcode uploadStream}); `etag` is S3's. */
  async put(
    key: string,
    body: ReadableStream<Uint8Array>,
    options: PutOptions = {},
  ): Promise<PutResult> {
    try {
      this.#check("upload", key, keyProblem(key), body);
    } catch (error) {
      cancelBody(body, error);
      throw error;
    }
    const target = this.#target(this.#prefix + key, options);
    try {
      const result = await uploadStream(body, target, {
        partSize: this.#partSize,
        concurrency: this.#concurrency,
        retries: this.#partRetries,
        maxParts: MAX_PARTS,
        inFlightGraceMs: IN_FLIGHT_GRACE_MS,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
        ...(options.bodyDigest === undefined ? {} : { bodyDigest: options.bodyDigest }),
      });
      const out: PutResult = { key, size: result.size, sha256: result.sha256 };
      if (result.etag !== undefined) out.etag = result.etag;
      return out;
    } catch (error) {
      if (error instanceof UploadFailure) throw this.#uploadError(key, error);
      throw this.#error("upload", key, error);
    }
  }

  /** Opens `key`; `signal` also cancels the stream while it is read. */
  async get(key: string, options: StorageSignalOptions = {}): Promise<ReadableStream<Uint8Array>> {
    this.#check("download", key, keyProblem(key));
    try {
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
        sendOptions(options.signal),
      );
      if (out.Body === undefined) throw new TypeError("GetObject returned no body");
      const stream = out.Body.transformToWebStream() as ReadableStream<Uint8Array>;
      return options.signal === undefined
        ? stream
        : stream.pipeThrough(new TransformStream<Uint8Array, Uint8Array>(), {
          signal: options.signal,
        });
    } catch (error) {
      throw this.#error("download", key, error);
    }
  }

  /** ListObjectsV2, page after page. */
  async list(prefix: string, options: StorageSignalOptions = {}): Promise<StoredObject[]> {
    this.#check("list", prefix, prefixProblem(prefix));
    const objects: StoredObject[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#prefix + prefix,
            MaxKeys: this.#listPageSize,
            ContinuationToken: token,
          }),
          sendOptions(options.signal),
        );
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined || !object.Key.startsWith(this.#prefix)) continue;
          objects.push({
            key: object.Key.slice(this.#prefix.length),
            size: object.Size ?? 0,
            lastModified: object.LastModified ?? new Date(0),
          });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
        if (page.IsTruncated && token === undefined) {
          throw new TypeError("ListObjectsV2 was truncated but gave no continuation token");
        }
      } while (token !== undefined);
    } catch (error) {
      throw this.#error("list", prefix, error);
    }
    return objects;
  }

  /** DeleteObjects in batches; throws {@linkcode StorageDeleteError} naming each failed key. */
  async delete(keys: readonly string[], options: StorageSignalOptions = {}): Promise<void> {
    for (const key of keys) this.#check("delete", key, keyProblem(key));
    const unique = [...new Set(keys)];
    const failures: DeleteFailure[] = [];
    for (let start = 0; start < unique.length; start += this.#deleteBatchSize) {
      const batch = unique.slice(start, start + this.#deleteBatchSize);
      const command = new DeleteObjectsCommand({
        Bucket: this.#bucket,
        Delete: { Objects: batch.map((key) => ({ Key: this.#prefix + key })), Quiet: true },
      });
      addContentMd5(command);
      let out;
      try {
        out = await this.#client.send(command, sendOptions(options.signal));
      } catch (error) {
        throw this.#error("delete", batch[0] ?? "", error);
      }
      for (const error of out.Errors ?? []) {
        const fullKey = error.Key ?? "";
        failures.push({
          key: fullKey.startsWith(this.#prefix) ? fullKey.slice(this.#prefix.length) : fullKey,
          code: error.Code ?? "Error",
          message: HINTS[error.Code ?? ""] ?? error.Message ?? "",
        });
      }
    }
    if (failures.length > 0) {
      throw new StorageDeleteError(this.description, unique.length, failures);
    }
  }

  /** Aborts multipart uploads under `prefix` that S3 says began more than `olderThanMs` ago. */
  async cleanupStaleUploads(prefix: string, olderThanMs: number): Promise<number> {
    this.#check("cleanup", prefix, prefixProblem(prefix));
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) {
      throw new RangeError(`Invalid age ${olderThanMs}: expected milliseconds, 0 or more`);
    }
    const cutoff = Date.now() - olderThanMs;
    const stale: { key: string; uploadId: string }[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      do {
        const page = await this.#client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.#bucket,
            Prefix: this.#prefix + prefix,
            MaxUploads: this.#listPageSize,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
        for (const upload of page.Uploads ?? []) {
          if (upload.Key === undefined || upload.UploadId === undefined) continue;
          // Without a start time the upload may be running right now: leave it.
          if (upload.Initiated === undefined || upload.Initiated.getTime() > cutoff) continue;
          if (!upload.Key.startsWith(this.#prefix + prefix)) continue;
          stale.push({ key: upload.Key, uploadId: upload.UploadId });
        }
        const more = page.IsTruncated === true && page.NextKeyMarker !== undefined;
        keyMarker = more ? page.NextKeyMarker : undefined;
        uploadIdMarker = more ? page.NextUploadIdMarker : undefined;
      } while (keyMarker !== undefined);
    } catch (error) {
      throw this.#error("cleanup", prefix, error);
    }
    for (const upload of stale) {
      try {
        await this.#abortUpload(upload.key, upload.uploadId);
      } catch (error) {
        throw this.#error("cleanup", upload.key.slice(this.#prefix.length), error);
      }
    }
    return stale.length;
  }

  /** Destroys the client's connections; later calls fail. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
  }

  #check(action: StorageAction, key: string, problem: string | undefined, body?: unknown): void {
    if (this.#closed) {
      throw new StorageError(
        storageMessage(action, this.description, key, "the storage is closed"),
        { action, storage: this.description, key, code: "Closed" },
      );
    }
    if (problem !== undefined) {
      throw new RangeError(
        storageMessage(action, this.description, key, `invalid key: ${problem}`),
      );
    }
    if (action === "upload" && !(body instanceof ReadableStream)) {
      throw new TypeError(
        storageMessage(action, this.description, key, "the body must be a ReadableStream"),
      );
    }
  }

  #target(fullKey: string, options: PutOptions): MultipartTarget<CompletedPart> {
    const bucket = this.#bucket;
    const client = this.#client;
    const withCrc = this.#options.checksums === "when_supported";
    const common = {
      Bucket: bucket,
      Key: fullKey,
      ...(options.contentType === undefined ? {} : { ContentType: options.contentType }),
      ...(this.#options.sse === undefined
        ? {}
        : { ServerSideEncryption: this.#options.sse as ServerSideEncryption }),
      ...(this.#options.kmsKeyId === undefined ? {} : { SSEKMSKeyId: this.#options.kmsKeyId }),
      ...(this.#options.storageClass === undefined
        ? {}
        : { StorageClass: this.#options.storageClass as StorageClass }),
    };
    return {
      async putObject(put, signal) {
        const command = new PutObjectCommand({
          ...common,
          Metadata: { ...options.metadata, sha256: put.sha256 },
          Body: put.bytes,
          ContentLength: put.bytes.length,
        });
        const out = await client.send(withPayloadHash(command, put.sha256), {
          abortSignal: signal,
        });
        return out.ETag;
      },
      createUpload: async (signal) => {
        const out = await client.send(
          new CreateMultipartUploadCommand({
            ...common,
            ...(options.metadata === undefined ? {} : { Metadata: options.metadata }),
            ...(withCrc ? { ChecksumAlgorithm: "CRC32" } : {}),
          }),
          { abortSignal: signal },
        );
        if (out.UploadId === undefined) {
          throw new TypeError("CreateMultipartUpload returned no UploadId");
        }
        // The SDK sent it again: an earlier attempt whose answer got lost may have opened an
        // upload whose id nobody knows, left open until a clean-up finds it.
        if ((out.$metadata.attempts ?? 1) > 1) {
          await this.#abortUnseen(fullKey, out.UploadId).catch(() => {});
        }
        return out.UploadId;
      },
      async uploadPart(uploadId, part, signal) {
        const command = new UploadPartCommand({
          Bucket: bucket,
          Key: fullKey,
          UploadId: uploadId,
          PartNumber: part.number,
          Body: part.bytes,
          ContentLength: part.bytes.length,
          ...(withCrc ? { ChecksumAlgorithm: "CRC32" } : {}),
        });
        const out = await client.send(withPayloadHash(command, part.sha256), {
          abortSignal: signal,
        });
        if (out.ETag === undefined) throw new TypeError(`UploadPart returned no ETag`);
        const completed: CompletedPart = { PartNumber: part.number, ETag: out.ETag };
        if (out.ChecksumCRC32 !== undefined) completed.ChecksumCRC32 = out.ChecksumCRC32;
        return completed;
      },
      async completeUpload(uploadId, parts, signal) {
        const out = await client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: fullKey,
            UploadId: uploadId,
            MultipartUpload: { Parts: [...parts] },
          }),
          { abortSignal: signal },
        );
        return out.ETag;
      },
      findPut: async (put) => {
        const head = await this.#head(fullKey);
        // PutObject stores the SHA-256 in the metadata: it proves these very bytes arrived.
        const same = head.Metadata?.sha256 === put.sha256 &&
          head.ContentLength === put.bytes.length;
        return same ? head.ETag : undefined;
      },
      findCompleted: async (parts, size) => {
        const expected = multipartEtag(parts.map((part) => part.ETag));
        if (expected === undefined) return undefined;
        const head = await this.#head(fullKey);
        return head.ETag === expected && head.ContentLength === size ? head.ETag : undefined;
      },
      abortUpload: (uploadId) => this.#abortUpload(fullKey, uploadId),
      isRetryable,
    };
  }

  /**
   * Aborts the other uploads of `fullKey` that began shortly before `uploadId` (by the server's
   * clock): attempts of the same CreateMultipartUpload whose answers were lost.
   */
  async #abortUnseen(fullKey: string, uploadId: string): Promise<void> {
    const page = await withTimeout(ABORT_TIMEOUT_MS, (signal) =>
      this.#client.send(
        new ListMultipartUploadsCommand({ Bucket: this.#bucket, Prefix: fullKey }),
        { abortSignal: signal },
      ));
    const uploads = (page.Uploads ?? []).filter((upload) => upload.Key === fullKey);
    const ours = uploads.find((upload) => upload.UploadId === uploadId)?.Initiated?.getTime();
    if (ours === undefined) return;
    for (const upload of uploads) {
      const began = upload.Initiated?.getTime();
      if (upload.UploadId === undefined || upload.UploadId === uploadId || began === undefined) {
        continue;
      }
      if (began <= ours && ours - began < UNSEEN_UPLOAD_WINDOW_MS) {
        await this.#abortUpload(fullKey, upload.UploadId);
      }
    }
  }

  /** HeadObject, bounded like an abort: it runs after a failure, maybe after the signal fired. */
  #head(fullKey: string) {
    return withTimeout(
      ABORT_TIMEOUT_MS,
      (signal) =>
        this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: fullKey }), {
          abortSignal: signal,
        }),
    );
  }

  /** Aborts, then again while ListParts still shows parts: S3 says late parts survive an abort. */
  async #abortUpload(fullKey: string, uploadId: string): Promise<void> {
    for (let round = 1;; round++) {
      try {
        await withTimeout(ABORT_TIMEOUT_MS, (signal) =>
          this.#client.send(
            new AbortMultipartUploadCommand({
              Bucket: this.#bucket,
              Key: fullKey,
              UploadId: uploadId,
            }),
            { abortSignal: signal },
          ));
      } catch (error) {
        if (errorCode(error) === "NoSuchUpload") return;
        throw error;
      }
      if (round === 3 || !(await this.#partsRemain(fullKey, uploadId))) return;
      await delay(500 * round);
    }
  }

  async #partsRemain(fullKey: string, uploadId: string): Promise<boolean> {
    try {
      const page = await withTimeout(ABORT_TIMEOUT_MS, (signal) =>
        this.#client.send(
          new ListPartsCommand({
            Bucket: this.#bucket,
            Key: fullKey,
            UploadId: uploadId,
            MaxParts: 1,
          }),
          { abortSignal: signal },
        ));
      return (page.Parts ?? []).length > 0;
    } catch {
      // NoSuchUpload is the good answer; a missing permission is no reason to fail.
      return false;
    }
  }

  #uploadError(key: string, failure: UploadFailure): StorageError {
    const cause = failure.cause;
    let code: string;
    let detail: string;
    switch (failure.step) {
      case "read":
        code = "SourceFailed";
        detail = `the source stream failed: ${errorText(cause)}`;
        break;
      case "aborted":
        code = "Aborted";
        detail = cause === undefined ? "aborted" : `aborted: ${errorText(cause)}`;
        break;
      case "limit":
        code = "TooManyParts";
        detail = `the stream is larger than ${MAX_PARTS.toLocaleString("en-US")} parts of ${
          formatBytes(this.#partSize)
        } (${
          formatBytes(MAX_PARTS * this.#partSize)
        }): set "max_object_size" to the largest backup you expect`;
        break;
      default:
        code = errorCode(cause);
        detail = `${stepText(failure.step, failure.partNumber, failure.attempts)}${code}: ${
          this.#hint("upload", code, cause)
        }`;
    }
    if (failure.abortError !== undefined) {
      const abortCode = errorCode(failure.abortError);
      detail += `; also cannot abort multipart upload "${failure.uploadId}": ${abortCode}: ${
        this.#hint("upload", abortCode, failure.abortError)
      }: its parts stay until cleanupStaleUploads() or a lifecycle rule removes them`;
    }
    return new StorageError(storageMessage("upload", this.description, key, detail), {
      action: "upload",
      storage: this.description,
      key,
      code,
      cause,
    });
  }

  #error(action: StorageAction, key: string, error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    const code = errorCode(error);
    const detail = `${code}: ${this.#hint(action, code, error)}`;
    return new StorageError(storageMessage(action, this.description, key, detail), {
      action,
      storage: this.description,
      key,
      code,
      cause: error,
    });
  }

  /** A fix for `code`, else the server's own words. */
  #hint(action: StorageAction, code: string, error: unknown): string {
    const message = errorText(error);
    if (code === "RegionMissing") return 'set "region" or AWS_REGION';
    if (code.startsWith("KMS")) {
      return `${message}: fix "kms_key_id" or the key's policy`;
    }
    if (TLS_CODES.has(code)) {
      return `the server's certificate is not trusted: set "ca_file" to the CA bundle that signed it`;
    }
    if ((code === "NoSuchKey" || code === "NotFound") && action === "download") {
      return "no such object";
    }
    return HINTS[code] ?? message;
  }
}

const HINTS: Record<string, string> = {
  NoSuchBucket: 'create the bucket or fix "bucket"',
  AccessDenied: 'grant the credentials access to the bucket and prefix, or fix "credentials"',
  AllAccessDisabled: 'grant the credentials access to the bucket, or fix "bucket"',
  InvalidAccessKeyId: 'fix the access key in "credentials" or in the environment',
  SignatureDoesNotMatch: 'fix the secret key in "credentials" or in the environment',
  ExpiredToken: "the session token expired: refresh the credentials",
  InvalidToken: 'fix "sessionToken" in "credentials"',
  CredentialsProviderError:
    'no credentials found: set "credentials", or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, web identity or an instance role',
  AuthorizationHeaderMalformed: `fix "region": it must be the bucket's region`,
  PermanentRedirect: `fix "region" (the bucket's region) or "endpoint"`,
  IllegalLocationConstraintException: `fix "region": it must be the bucket's region`,
  ECONNREFUSED: 'nothing listens at "endpoint": fix it or start the server',
  ENOTFOUND: 'the host of "endpoint" is unknown: fix it or the DNS',
  EAI_AGAIN: "DNS lookup failed: check the network",
  ETIMEDOUT: 'the connection timed out: check "endpoint" and the network',
  ECONNRESET: "the server closed the connection: check the server and the network",
  InvalidStorageClass: 'fix "storageClass"',
  InvalidDigest: "the part's Content-MD5 was not accepted",
  BadDigest: "the bytes changed in transit (Content-MD5 mismatch): check the network",
  XAmzContentSHA256Mismatch:
    "the bytes changed in transit (their SHA-256 differs from the signed one): check the network",
  NotImplemented: 'the server does not support this request: try "checksums": "when_required"',
  SlowDown: 'the server asks to slow down: lower "concurrency" or retry later',
  ServiceUnavailable: 'the server is overloaded: lower "concurrency" or retry later',
  RequestTimeTooSkewed: "this machine's clock is off: sync it (NTP)",
  EntityTooLarge: 'the object is too large for one request: lower "part_size"',
  NoSuchUpload: "the multipart upload vanished (aborted by someone else or a lifecycle rule)",
  Aborted: "aborted",
};

const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

function clientConfig(options: S3StorageOptions): S3ClientConfig {
  const checksums = options.checksums ?? "when_required";
  if (checksums !== "when_required" && checksums !== "when_supported") {
    throw new RangeError(
      `Invalid "checksums" "${checksums}": expected "when_required" or "when_supported"`,
    );
  }
  const mode = checksums === "when_supported" ? "WHEN_SUPPORTED" : "WHEN_REQUIRED";
  // The SDK's default CRC checksums and aws-chunked trailers are not for every S3 server.
  const config: S3ClientConfig = {
    requestChecksumCalculation: mode,
    responseChecksumValidation: mode,
  };
  if (options.endpoint !== undefined) {
    config.endpoint = checkEndpoint(options.endpoint);
    config.forcePathStyle = options.forcePathStyle ?? true;
    // S3-compatible servers rarely care about the region, but SigV4 needs one.
    config.region = options.region ?? "us-east-1";
  } else {
    if (options.forcePathStyle !== undefined) config.forcePathStyle = options.forcePathStyle;
    if (options.region !== undefined) config.region = options.region;
  }
  if (options.credentials !== undefined) {
    const { accessKeyId, secretAccessKey, sessionToken } = options.credentials;
    if (!accessKeyId || !secretAccessKey) {
      throw new RangeError(
        `Invalid "credentials": both "accessKeyId" and "secretAccessKey" are needed`,
      );
    }
    config.credentials = sessionToken === undefined
      ? { accessKeyId, secretAccessKey }
      : { accessKeyId, secretAccessKey, sessionToken };
  }
  let ca: string | undefined;
  if (options.caFile !== undefined) {
    try {
      ca = Deno.readTextFileSync(options.caFile);
    } catch (cause) {
      throw new Error(
        `Cannot read "ca_file" "${options.caFile}": ${errorText(cause)}: fix the path`,
        { cause },
      );
    }
  }
  // Our own agents: the SDK gives each request with `Expect: 100-continue` (bodies from 2 MB,
  // i.e. every part) a fresh agent without keep-alive and without our `ca` unless the agents are
  // ours. Deno's node:https honours `ca`.
  const idleMs = wholeNumber("idleTimeoutMs", options.idleTimeoutMs, 60_000, 100, 3_600_000);
  // `timeout` keeps the idle timer armed on sockets that go back to the pool and come out again.
  const agent = { keepAlive: true, maxSockets: 50, timeout: idleMs };
  config.requestHandler = {
    httpAgent: new IdleHttpAgent(idleMs, agent),
    httpsAgent: new IdleHttpsAgent(idleMs, { ...agent, ...(ca ? { ca } : {}) }),
  };
  return config;
}

/*
 * The idle timeout lives on the agents' sockets, not in the SDK's `socketTimeout`: when a
 * kept-alive connection dies under a request, Deno sends the request again on a fresh socket,
 * the SDK only ever watches the first one, and a server that swallowed the second one hung the
 * upload for good.
 */

/** An HTTP agent whose sockets fail after `idleMs` in which no byte moved. */
class IdleHttpAgent extends HttpAgent {
  readonly #idleMs: number;

  constructor(idleMs: number, options: ConstructorParameters<typeof HttpAgent>[0]) {
    super(options);
    this.#idleMs = idleMs;
  }

  override createConnection(
    ...args: Parameters<HttpAgent["createConnection"]>
  ): ReturnType<HttpAgent["createConnection"]> {
    return failWhenIdle(super.createConnection(...args), this.#idleMs);
  }
}

/** {@linkcode IdleHttpAgent} for https. */
class IdleHttpsAgent extends HttpsAgent {
  readonly #idleMs: number;

  constructor(idleMs: number, options: ConstructorParameters<typeof HttpsAgent>[0]) {
    super(options);
    this.#idleMs = idleMs;
  }

  override createConnection(
    ...args: Parameters<HttpsAgent["createConnection"]>
  ): ReturnType<HttpsAgent["createConnection"]> {
    return failWhenIdle(super.createConnection(...args), this.#idleMs);
  }
}

function failWhenIdle<T>(socket: T, idleMs: number): T {
  const net = socket as { setTimeout?: unknown } | null | undefined;
  if (typeof net?.setTimeout !== "function") return socket;
  const conn = socket as unknown as Socket;
  conn.setTimeout(idleMs);
  conn.on("timeout", () => {
    // ETIMEDOUT: the SDK calls it a TimeoutError and retries. A socket resting in the pool has
    // no request to fail, and an error nobody listens to would crash the process.
    if (conn.listenerCount("error") === 0) {
      conn.destroy();
      return;
    }
    const error = new Error(`no byte moved for ${idleMs} ms`);
    conn.destroy(Object.assign(error, { code: "ETIMEDOUT" }));
  });
  return socket;
}

function checkEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new RangeError(`Invalid "endpoint" "${endpoint}": write a URL such as http://minio:9000`);
  }
  if (url.username !== "" || url.password !== "") {
    // Never echo what may be a secret.
    throw new RangeError(
      `Invalid "endpoint": it contains a user name or password: use "credentials" instead`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`Invalid "endpoint" "${endpoint}": use http:// or https://`);
  }
  return endpoint;
}

function wholeNumber(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Invalid "${name}" ${value}: expected a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

/** The S3 error code (`NoSuchBucket`), a system error code (`ECONNREFUSED`) or an error name. */
function errorCode(error: unknown): string {
  if (typeof error !== "object" || error === null) return "Error";
  const { name, code, $metadata } = error as {
    name?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const status = $metadata?.httpStatusCode;
  if (status !== undefined && typeof name === "string" && !GENERIC_NAMES.has(name)) return name;
  if (error instanceof Error && /region is missing/i.test(error.message)) return "RegionMissing";
  if (name === "AbortError") return "Aborted";
  if (typeof code === "string" && code !== "") return code;
  if (status !== undefined) return `HTTP ${status}`;
  if (typeof name === "string" && name !== "") return name;
  return "Error";
}

const GENERIC_NAMES = new Set(["Error", "Unknown", "UnknownError", "S3ServiceException"]);

/** Server errors, throttling, timeouts and dropped connections; not auth or missing buckets. */
function isRetryable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { name, $metadata } = error as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  if (name === "AbortError") return false;
  const code = errorCode(error);
  if (RETRYABLE_CODES.has(code)) return true;
  const status = $metadata?.httpStatusCode;
  // No status: the request never got an answer (reset, timeout, refused).
  if (status === undefined) return !(error instanceof TypeError) && !(error instanceof RangeError);
  return status >= 500 || status === 408 || status === 429;
}

const RETRYABLE_CODES = new Set([
  "RequestTimeout",
  "RequestTimeTooSkewed",
  "BadDigest",
  "XAmzContentSHA256Mismatch",
  "SlowDown",
  "InternalError",
  "ServiceUnavailable",
  "TimeoutError",
]);

function stepText(step: UploadStep, partNumber: number | undefined, attempts: number): string {
  const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
  switch (step) {
    case "part":
      return `part ${partNumber} failed${tries}: `;
    case "put":
      return tries ? `failed${tries}: ` : "";
    case "create":
      return "cannot start the multipart upload: ";
    case "complete":
      return "cannot complete the multipart upload: ";
    default:
      return "";
  }
}

function sendOptions(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}

/**
 * Signs `sha256` (hex, computed while the part was read) as the payload hash: the server checks
 * the body against it, which makes Content-MD5 redundant, and the SDK does not hash the body again.
 */
function withPayloadHash<C extends PutObjectCommand | UploadPartCommand>(
  command: C,
  sha256: string,
): C {
  // Both commands' stacks take the same middleware; their types differ only in input and output.
  const stack = command.middlewareStack as PutObjectCommand["middlewareStack"];
  stack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      // With `checksums: when_supported` the SDK may already have chosen what to sign.
      if (request.headers !== undefined) request.headers["x-amz-content-sha256"] ??= sha256;
      return next(args);
    },
    { step: "build", name: "snapcronPayloadHash" },
  );
  return command;
}

/** Adds `Content-MD5`: some S3-compatible servers demand it on DeleteObjects; the SDK sends CRC32. */
function addContentMd5(command: DeleteObjectsCommand): void {
  command.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      if (request.headers !== undefined && typeof request.body === "string") {
        request.headers["content-md5"] = md5Base64(new TextEncoder().encode(request.body));
      }
      return next(args);
    },
    { step: "build", name: "snapcronContentMd5" },
  );
}

async function withTimeout<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`Timed out after ${ms} ms`, "TimeoutError")),
    ms,
  );
  try {
    return await fn(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The ETag S3 gives an object assembled from parts with these ETags: the MD5 of their MD5s and
 * the part count. Undefined when an ETag is no 32-digit hex; with SSE-KMS or SSE-C the part
 * ETags are no MD5s and the result matches nothing, so such an upload is never taken for done.
 */
function multipartEtag(etags: readonly (string | undefined)[]): string | undefined {
  const md5s: Uint8Array[] = [];
  for (const etag of etags) {
    const hex = etag?.replace(/^"|"$/g, "") ?? "";
    if (!/^[0-9a-f]{32}$/i.test(hex)) return undefined;
    md5s.push(Uint8Array.from(hex.match(/../g) ?? [], (byte) => parseInt(byte, 16)));
  }
  const all = new Uint8Array(md5s.length * 16);
  md5s.forEach((md5, i) => all.set(md5, i * 16));
  return `"${createHash("md5").update(all).digest("hex")}-${etags.length}"`;
}
