/**
 * Where backups go: {@linkcode S3Storage} (streaming multipart uploads to S3 and S3-compatible
 * servers) and {@linkcode LocalStorage} (a directory, atomic renames), behind one
 * {@linkcode Storage} interface.
 */
export { LocalStorage, type LocalStorageOptions } from "./local.ts";
export { type S3Credentials, s3PartSize, S3Storage, type S3StorageOptions } from "./s3.ts";
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
