import type { S3StorageOptions } from "./s3.ts";
import type {
  PutOptions,
  PutResult,
  Storage,
  StorageSignalOptions,
  StoredObject,
} from "./_types.ts";

// Named through a variable so that Deno's module graph does not follow it: an npm package
// anywhere in the graph, even behind an import() that never runs, makes Deno start its Node.js
// layer at start-up (about 3 MiB of the idle daemon's memory). The price: `deno compile` must
// be told to `--include` the file (scripts/compile.sh does), and `deno run` needs read access
// to it, which snapcron has anyway (configs, CA files).
const S3_MODULE = "./s3.ts";

/**
 * An S3 storage whose code (and the AWS SDK, ~25 MiB of memory) loads on first use, so a
 * process whose jobs never touch S3 never pays for it.
 */
export function s3Storage(options: S3StorageOptions): Storage {
  let loaded: Promise<Storage> | undefined;
  let closed = false;
  const load = () =>
    loaded ??= (import(S3_MODULE) as Promise<typeof import("./s3.ts")>).then(({ S3Storage }) => {
      if (closed) throw new Error(`Storage ${description} is closed`);
      return new S3Storage(options);
    });
  const prefix = options.prefix ? `/${options.prefix.replace(/^\/+|\/+$/g, "")}` : "";
  const description = `s3://${options.bucket}${prefix}`;
  return {
    description,
    async put(key: string, body: ReadableStream<Uint8Array>, put?: PutOptions): Promise<PutResult> {
      return (await load()).put(key, body, put);
    },
    async get(key: string, read?: StorageSignalOptions): Promise<ReadableStream<Uint8Array>> {
      return (await load()).get(key, read);
    },
    async list(prefix: string, read?: StorageSignalOptions): Promise<StoredObject[]> {
      return (await load()).list(prefix, read);
    },
    async delete(keys: readonly string[], read?: StorageSignalOptions): Promise<void> {
      return (await load()).delete(keys, read);
    },
    async cleanupStaleUploads(prefix: string, olderThanMs: number): Promise<number> {
      return (await load()).cleanupStaleUploads(prefix, olderThanMs);
    },
    close(): void {
      closed = true;
      loaded?.then((storage) => storage.close(), () => {});
    },
  };
}
