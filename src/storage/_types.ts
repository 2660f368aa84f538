/** Options of {@linkcode Storage.put}. */
export interface PutOptions {
  /** MIME type stored with the object (S3 only; a directory has nowhere to keep it). */
  contentType?: string;
  /** User metadata (S3 only), sent as `x-amz-meta-*` headers. */
  metadata?: Record<string, string>;
  signal?: AbortSignal;
  /** Called with the total number of bytes stored so far, growing to the object's size. */
  onProgress?: (bytes: number) => void;
  /**
   * For a producer that hashes the body anyway (an etcd snapshot): its size and hex SHA-256,
   * asked for once the body ended. S3 then skips hashing the bytes for `sha256` and fails the
   * upload, leaving no object, when the size differs; other storages may hash themselves.
   */
  bodyDigest?: () => Promise<{ size: number; sha256: string }>;
}

/** What {@linkcode Storage.put} stored. */
export interface PutResult {
  key: string;
  size: number;
  /** Lowercase hex SHA-256 of the whole object, computed while it streamed past. */
  sha256: string;
  etag?: string;
}

/** One object found by {@linkcode Storage.list}. */
export interface StoredObject {
  /** Relative to the storage's own prefix or directory. */
  key: string;
  size: number;
  lastModified: Date;
}

/** Options of the read-side operations of {@linkcode Storage}. */
export interface StorageSignalOptions {
  signal?: AbortSignal;
}

/** Where backups go: an S3 bucket and prefix, or a local directory. Keys use `/` separators. */
export interface Storage {
  /** Where the objects live, for messages: `s3://bucket/prefix` or `/var/backups`. */
  readonly description: string;
  /** Streams `body` to `key`; the object appears whole or not at all. */
  put(key: string, body: ReadableStream<Uint8Array>, options?: PutOptions): Promise<PutResult>;
  /** Opens `key` for reading; the caller consumes or cancels the stream. */
  get(key: string, options?: StorageSignalOptions): Promise<ReadableStream<Uint8Array>>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string, options?: StorageSignalOptions): Promise<StoredObject[]>;
  /** Deletes `keys`; a key that does not exist counts as deleted. */
  delete(keys: readonly string[], options?: StorageSignalOptions): Promise<void>;
  /** Removes leftovers of uploads under `prefix` older than `olderThanMs`; returns how many. */
  cleanupStaleUploads(prefix: string, olderThanMs: number): Promise<number>;
  /** Releases connections; safe to call twice. */
  close(): void;
}

/** What a storage was doing when it failed. */
export type StorageAction = "upload" | "download" | "list" | "delete" | "cleanup";

/** Options of {@linkcode StorageError}. */
export interface StorageErrorOptions {
  action: StorageAction;
  /** The storage's description, e.g. `s3://bucket/prefix`. */
  storage: string;
  /** The key (or prefix, for list and cleanup) concerned. */
  key: string;
  /** The S3 error code (`NoSuchBucket`), the system error (`EACCES`) or one of ours. */
  code: string;
  cause?: unknown;
}

/**
 * A storage operation that failed. The message names the storage, the key and a fix; `code`
 * is the S3 error code or system error name, `cause` the original error.
 */
export class StorageError extends Error {
  readonly action: StorageAction;
  readonly storage: string;
  readonly key: string;
  readonly code: string;

  /** `message` is the whole sentence, built by {@linkcode storageMessage}. */
  constructor(message: string, options: StorageErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "StorageError";
    this.action = options.action;
    this.storage = options.storage;
    this.key = options.key;
    this.code = options.code;
  }
}

/** `Cannot upload "etcd/x.db" to s3://bucket/prefix: <detail>`, and the like for each action. */
export function storageMessage(
  action: StorageAction,
  storage: string,
  key: string,
  detail: string,
): string {
  switch (action) {
    case "upload":
      return `Cannot upload "${key}" to ${storage}: ${detail}`;
    case "download":
      return `Cannot download "${key}" from ${storage}: ${detail}`;
    case "list":
      return `Cannot list "${key}" in ${storage}: ${detail}`;
    case "delete":
      return `Cannot delete "${key}" from ${storage}: ${detail}`;
    case "cleanup":
      return `Cannot clean up stale uploads under "${key}" in ${storage}: ${detail}`;
  }
}

/** One key that could not be deleted. */
export interface DeleteFailure {
  key: string;
  code: string;
  /** What went wrong and, when known, the fix. */
  message: string;
}

/** A delete in which some keys failed; `failures` names each. */
export class StorageDeleteError extends StorageError {
  readonly failures: readonly DeleteFailure[];

  /** `total` is how many keys were to be deleted. */
  constructor(storage: string, total: number, failures: readonly DeleteFailure[]) {
    const shown = failures.slice(0, 5).map((failure) =>
      `"${failure.key}": ${failure.code}: ${failure.message}`
    ).join("; ");
    const more = failures.length > 5 ? `; and ${failures.length - 5} more` : "";
    const first = failures[0];
    super(`Cannot delete ${failures.length} of ${total} objects from ${storage}: ${shown}${more}`, {
      action: "delete",
      storage,
      key: first?.key ?? "",
      code: first?.code ?? "Error",
    });
    this.name = "StorageDeleteError";
    this.failures = failures;
  }
}
