/**
 * A directory as storage. An object is written to a temporary name beside its final one,
 * fsynced, renamed into place and the directory fsynced, so a crash leaves the old object or the
 * new one, never half of one. Keys resolve strictly inside the directory.
 */
import { cancelBody, errorText, raceAbort } from "./_async.ts";
import { keyProblem, prefixProblem } from "./_keys.ts";
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

/** Options of {@linkcode LocalStorage}. */
export interface LocalStorageOptions {
  /** The directory; created on the first upload. */
  path: string;
}

/** Bytes between two progress reports. */
const PROGRESS_STEP = 1024 * 1024;

/** `.NAME.<12 hex>.partial`: an upload of NAME in progress (or abandoned). */
const TEMP_NAME = /^\.(.+)\.[0-9a-f]{12}\.partial$/;

/** Objects as files below one directory. `contentType` and `metadata` are not kept. */
export class LocalStorage implements Storage {
  readonly description: string;
  readonly #root: string;
  #closed = false;

  /** Resolves `path` against the working directory; nothing is touched yet. */
  constructor(options: LocalStorageOptions) {
    const path = options.path;
    if (typeof path !== "string" || path === "" || path.includes("\0")) {
      throw new RangeError(`Invalid storage path "${path}": expected a directory path`);
    }
    this.#root = absolutePath(path);
    this.description = this.#root;
  }

  /** Writes `.KEY.<random>.partial`, fsyncs, renames it to KEY and fsyncs the directory. */
  async put(
    key: string,
    body: ReadableStream<Uint8Array>,
    options: PutOptions = {},
  ): Promise<PutResult> {
    try {
      this.#check("upload", key, localKeyProblem(key));
      if (!(body instanceof ReadableStream)) {
        throw new TypeError(
          storageMessage("upload", this.description, key, "the body must be a ReadableStream"),
        );
      }
    } catch (error) {
      cancelBody(body, error);
      throw error;
    }
    const { signal, onProgress } = options;
    const path = this.#path(key);
    const dir = parentOf(path);
    // Loaded on first use, like node:dgram for DogStatsD: see the footprint benchmark.
    const { createHash } = await import("node:crypto");
    const reader = body.getReader();
    const hash = createHash("sha256");
    let size = 0;
    let reported = 0;
    let temp: string | undefined;
    let file: Deno.FsFile | undefined;
    let reading = false;
    try {
      signal?.throwIfAborted();
      await this.#makeDirectories(key);
      temp = joinPath(dir, `.${nameOf(path)}.${randomHex(6)}.partial`);
      file = await Deno.open(temp, { write: true, createNew: true });
      for (;;) {
        reading = true;
        const result = await raceAbort(reader.read(), signal);
        reading = false;
        if (result.done) break;
        const chunk: unknown = result.value;
        if (!(chunk instanceof Uint8Array)) {
          throw new TypeError(`the stream yielded ${typeof chunk} instead of Uint8Array chunks`);
        }
        hash.update(chunk);
        await writeAll(file, chunk);
        size += chunk.length;
        // Chunks are often 64 KiB: report about every MiB, not thousands of times.
        if (size - reported >= PROGRESS_STEP) reported = progress(onProgress, size);
      }
      signal?.throwIfAborted();
      if (reported !== size) progress(onProgress, size);
      await file.sync();
      file.close();
      file = undefined;
      await Deno.rename(temp, path);
      temp = undefined;
      await syncDirectory(dir);
      return { key, size, sha256: hash.digest("hex") };
    } catch (error) {
      try {
        await reader.cancel(error);
      } catch {
        // The source already failed; its error is the one reported.
      }
      file?.close();
      if (temp !== undefined) await Deno.remove(temp).catch(() => {});
      if (signal?.aborted) throw this.#error("upload", key, signal.reason, true);
      throw reading ? this.#sourceError(key, error) : this.#error("upload", key, error);
    } finally {
      try {
        reader.releaseLock();
      } catch {
        // A read left pending by an abort keeps the lock; the stream is cancelled anyway.
      }
    }
  }

  /** Opens the file; `signal` also cancels the stream while it is read. */
  async get(key: string, options: StorageSignalOptions = {}): Promise<ReadableStream<Uint8Array>> {
    this.#check("download", key, localKeyProblem(key));
    const path = this.#path(key);
    let file: Deno.FsFile | undefined;
    try {
      options.signal?.throwIfAborted();
      await this.#ensureInside(path);
      file = await Deno.open(path, { read: true });
      if (!(await file.stat()).isFile) {
        throw Object.assign(new Error("it is a directory, not an object"), { code: "EISDIR" });
      }
    } catch (error) {
      file?.close();
      throw this.#error("download", key, error, options.signal?.aborted);
    }
    return options.signal === undefined
      ? file.readable
      : file.readable.pipeThrough(new TransformStream<Uint8Array, Uint8Array>(), {
        signal: options.signal,
      });
  }

  /** Walks the directories that can hold keys starting with `prefix`; skips temporary files. */
  async list(prefix: string, options: StorageSignalOptions = {}): Promise<StoredObject[]> {
    this.#check("list", prefix, prefixProblem(prefix));
    const objects: StoredObject[] = [];
    try {
      for await (const file of this.#walk(prefix, options.signal)) {
        if (TEMP_NAME.test(file.name) || !file.key.startsWith(prefix)) continue;
        const info = await Deno.lstat(file.path);
        if (!info.isFile) continue;
        objects.push({ key: file.key, size: info.size, lastModified: info.mtime ?? new Date(0) });
      }
    } catch (error) {
      throw this.#error("list", prefix, error, options.signal?.aborted);
    }
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Removes the files; a missing one counts as deleted, a directory as a failure. */
  async delete(keys: readonly string[], options: StorageSignalOptions = {}): Promise<void> {
    for (const key of keys) this.#check("delete", key, localKeyProblem(key));
    const failures: DeleteFailure[] = [];
    for (const key of new Set(keys)) {
      if (options.signal?.aborted) {
        throw this.#error("delete", key, options.signal.reason, true);
      }
      const path = this.#path(key);
      try {
        await this.#ensureInside(parentOf(path));
        const info = await Deno.lstat(path);
        if (info.isDirectory) {
          failures.push({ key, code: "EISDIR", message: "it is a directory, not an object" });
          continue;
        }
        await Deno.remove(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) continue;
        const code = systemCode(error);
        failures.push({ key, code, message: this.#hint("delete", code, error) });
      }
    }
    if (failures.length > 0) {
      throw new StorageDeleteError(this.description, new Set(keys).size, failures);
    }
  }

  /** Removes `.partial` files under `prefix` not modified for `olderThanMs`. */
  async cleanupStaleUploads(prefix: string, olderThanMs: number): Promise<number> {
    this.#check("cleanup", prefix, prefixProblem(prefix));
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) {
      throw new RangeError(`Invalid age ${olderThanMs}: expected milliseconds, 0 or more`);
    }
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    try {
      for await (const file of this.#walk(prefix, undefined)) {
        const match = TEMP_NAME.exec(file.name);
        if (match === null) continue;
        // The key the temporary file was going to become.
        const key = file.key.slice(0, file.key.length - file.name.length) + (match[1] ?? "");
        if (!key.startsWith(prefix)) continue;
        const info = await Deno.lstat(file.path);
        if (!info.isFile || (info.mtime?.getTime() ?? 0) > cutoff) continue;
        try {
          await Deno.remove(file.path);
          removed++;
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        }
      }
    } catch (error) {
      throw this.#error("cleanup", prefix, error);
    }
    return removed;
  }

  /** Marks the storage closed; later calls fail. Safe to call twice. */
  close(): void {
    this.#closed = true;
  }

  #check(action: StorageAction, key: string, problem: string | undefined): void {
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
  }

  /** Only called with validated keys: no `..`, no empty segment, no absolute path. */
  #path(key: string): string {
    return joinPath(this.#root, ...key.split("/"));
  }

  /** Creates the folders of `key` one by one, checking each before creating anything in it. */
  async #makeDirectories(key: string): Promise<void> {
    await Deno.mkdir(this.#root, { recursive: true });
    let dir = this.#root;
    for (const segment of key.split("/").slice(0, -1)) {
      dir = joinPath(dir, segment);
      try {
        await Deno.mkdir(dir);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
      await this.#ensureInside(dir);
    }
  }

  /** Rejects a path that a symbolic link leads outside the root. */
  async #ensureInside(path: string): Promise<void> {
    const [root, real] = await Promise.all([Deno.realPath(this.#root), Deno.realPath(path)]);
    if (real !== root && !real.startsWith(root.endsWith("/") ? root : `${root}/`)) {
      throw new EscapeError(`a symbolic link leads outside the directory, to "${real}"`);
    }
  }

  /** Files (not symbolic links) below the directories that can hold keys starting with `prefix`. */
  async *#walk(prefix: string, signal: AbortSignal | undefined): AsyncGenerator<WalkedFile> {
    const slash = prefix.lastIndexOf("/");
    const base = slash < 0 ? "" : prefix.slice(0, slash + 1);
    const start = base === "" ? this.#root : this.#path(base.slice(0, -1));
    try {
      await this.#ensureInside(start);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    const stack: { dir: string; key: string }[] = [{ dir: start, key: base }];
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      signal?.throwIfAborted();
      const { dir, key } = next;
      let entries: Deno.DirEntry[];
      try {
        entries = await Array.fromAsync(Deno.readDir(dir));
      } catch (error) {
        // A directory removed while walking holds nothing any more.
        if (error instanceof Deno.errors.NotFound) continue;
        throw error;
      }
      for (const entry of entries) {
        const entryKey = key + entry.name;
        if (entry.isDirectory) {
          const folder = `${entryKey}/`;
          if (folder.startsWith(prefix) || prefix.startsWith(folder)) {
            stack.push({ dir: joinPath(dir, entry.name), key: folder });
          }
        } else if (entry.isFile) {
          yield { path: joinPath(dir, entry.name), key: entryKey, name: entry.name };
        }
      }
    }
  }

  #error(action: StorageAction, key: string, error: unknown, aborted = false): StorageError {
    if (error instanceof StorageError) return error;
    const code = aborted ? "Aborted" : systemCode(error);
    const detail = aborted
      ? `aborted${error === undefined ? "" : `: ${errorText(error)}`}`
      : `${code}: ${this.#hint(action, code, error)}`;
    return new StorageError(storageMessage(action, this.description, key, detail), {
      action,
      storage: this.description,
      key,
      code,
      cause: error,
    });
  }

  #sourceError(key: string, error: unknown): StorageError {
    const detail = `the source stream failed: ${errorText(error)}`;
    return new StorageError(storageMessage("upload", this.description, key, detail), {
      action: "upload",
      storage: this.description,
      key,
      code: "SourceFailed",
      cause: error,
    });
  }

  #hint(action: StorageAction, code: string, error: unknown): string {
    switch (code) {
      case "ENOENT":
        return action === "download" ? "no such object" : errorText(error);
      case "EACCES":
      case "EPERM":
        return `grant this process access to "${this.#root}" or fix "path"`;
      case "ENOSPC":
      case "EDQUOT":
        return 'the file system is full: free space or choose another "path"';
      case "EROFS":
        return 'the file system is read-only: choose another "path"';
      case "Escape":
        return `${errorText(error)}: keep objects inside "${this.#root}"`;
      default:
        return errorText(error);
    }
  }
}

interface WalkedFile {
  path: string;
  /** Relative to the root, `/`-separated. */
  key: string;
  name: string;
}

/** A path that resolves outside the root. */
class EscapeError extends Error {
  override name = "EscapeError";
  readonly code = "Escape";
}

/** Keys of a local storage: the common rules, and no segment that looks like a temporary file. */
function localKeyProblem(key: string): string | undefined {
  const problem = keyProblem(key);
  if (problem !== undefined) return problem;
  if (key.split("/").some((segment) => TEMP_NAME.test(segment))) {
    return 'it looks like a temporary upload (".NAME.<hex>.partial")';
  }
  return undefined;
}

/** `ENOENT`, `EACCES`…: the system error code, else the error's name. */
function systemCode(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === "string" && code !== "") return code;
    if (typeof name === "string" && name !== "") return name;
  }
  return "Error";
}

/** Calls `onProgress`, ignoring its errors: a broken progress display must not fail a backup. */
function progress(onProgress: ((bytes: number) => void) | undefined, bytes: number): number {
  try {
    onProgress?.(bytes);
  } catch {
    // Ignored, see above.
  }
  return bytes;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += await file.write(bytes.subarray(offset));
  }
}

/** Makes a rename durable: a new directory entry is only safe once the directory is synced. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)))
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

// POSIX paths by hand (snapcron runs on Linux): importing node:path would start Deno's Node.js
// layer in every process, about 4 MiB of the idle daemon's memory.

/** `path` made absolute against the working directory, with ".", ".." and "//" resolved. */
export function absolutePath(path: string): string {
  const segments: string[] = [];
  for (const segment of (path.startsWith("/") ? path : `${Deno.cwd()}/${path}`).split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join("/")}`;
}

/** The folder holding absolute `path` ("/" for a top-level one). */
function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/** The last segment of `path`. */
function nameOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Absolute folder `dir` and plain names below it (no "/", "." or ".." in them). */
function joinPath(dir: string, ...names: string[]): string {
  return [dir === "/" ? "" : dir, ...names].join("/");
}
