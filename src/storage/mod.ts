/**
 * Where backups go: S3 (streaming multipart uploads to S3 and S3-compatible servers, see
 * `s3.ts`) and {@linkcode LocalStorage} (a directory, atomic renames), behind one
 * {@linkcode Storage} interface. {@linkcode s3Storage} loads the S3 code on first use; import
 * `s3.ts` directly for the class itself.
 */
export { LocalStorage, type LocalStorageOptions } from "./local.ts";
export { formatBytes } from "./_format.ts";
export { s3Storage } from "./_lazy.ts";
export type { S3Credentials, S3Storage, S3StorageOptions } from "./s3.ts";
export {
  type DeleteFailure,
  type PutOptions,
  type PutResult,
  type Storage,
  type StorageAction,
  StorageDeleteError,
  StorageError,
  type StorageErrorOptions,
  type StorageSignalOptions,
  type StoredObject,
} from "./_types.ts";
