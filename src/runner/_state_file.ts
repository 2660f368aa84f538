import type { Logger } from "../log/mod.ts";
import type { RunStore } from "./_store.ts";
import type { RunRecord } from "./_types.ts";

/** What the state file holds for one job. */
export interface StoredJob {
  history: RunRecord[];
  lastSuccess?: RunRecord;
  lastFailure?: RunRecord;
}

const FORMAT = 1;
const DATE_KEYS = new Set(["startedAt", "endedAt", "scheduledAt"]);

/** Reads a state file; a missing file is an empty state, a broken one an error naming it. */
export async function readStateFile(path: string): Promise<Record<string, StoredJob>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return {};
    throw new Error(`Cannot read state file "${path}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    const data = JSON.parse(
      text,
      (key, value) => DATE_KEYS.has(key) && typeof value === "string" ? new Date(value) : value,
    );
    if (data?.format !== FORMAT || typeof data.jobs !== "object") {
      throw new TypeError(`unknown format ${JSON.stringify(data?.format)}`);
    }
    return data.jobs as Record<string, StoredJob>;
  } catch (error) {
    throw new Error(
      `Cannot read state file "${path}": ${(error as Error).message}: fix or delete the file`,
      { cause: error },
    );
  }
}

/** Writes the state atomically: a temporary file beside it, fsync, then rename. */
export async function writeStateFile(path: string, jobs: Record<string, StoredJob>): Promise<void> {
  const temp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const body = JSON.stringify({ format: FORMAT, saved_at: new Date().toISOString(), jobs });
  const file = await Deno.open(temp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    await file.write(new TextEncoder().encode(body));
    await file.sync();
  } finally {
    file.close();
  }
  try {
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/**
 * Keeps `store` in a state file: loads it now and rewrites it after every finished run, one
 * write at a time. Returns a function that stops and waits for the last write.
 */
export async function persistStore(
  store: RunStore,
  path: string,
  log: Logger,
): Promise<() => Promise<void>> {
  store.restore(await readStateFile(path));
  let writing = Promise.resolve();
  let dirty = false;
  const unsubscribe = store.subscribe((event) => {
    if (event.type !== "finish") return;
    if (dirty) return;
    dirty = true;
    writing = writing.then(async () => {
      dirty = false;
      try {
        await writeStateFile(path, store.export());
      } catch (error) {
        log.error(`Cannot write state file "${path}": ${(error as Error).message}`);
      }
    });
  });
  return async () => {
    unsubscribe();
    await writing;
  };
}
