import assert from "node:assert/strict";
import { join } from "node:path";
import { LocalStorage, StorageDeleteError, StorageError } from "./mod.ts";
import { absolutePath } from "./local.ts";

const KiB = 1024;

function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(offset + 65536, size)));
  }
  return bytes;
}

/** Emits `data` in uneven chunks; with `failAt`, errors once that many bytes were emitted. */
function chunked(
  data: Uint8Array,
  options: { failAt?: number; onEmit?: (sent: number) => void } = {},
): ReadableStream<Uint8Array> {
  let offset = 0;
  let turn = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (options.failAt !== undefined && offset >= options.failAt) {
        controller.error(new Error("disk read error"));
        return;
      }
      if (offset >= data.length) {
        controller.close();
        return;
      }
      const size = [1, 4093, 65536, 100_000][turn++ % 4] ?? 1;
      controller.enqueue(data.slice(offset, offset + size));
      offset = Math.min(offset + size, data.length);
      options.onEmit?.(offset);
    },
  });
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Every file and directory below `dir`, relative, sorted. */
async function tree(dir: string, base = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const name = base + entry.name;
    names.push(entry.isDirectory ? `${name}/` : name);
    if (entry.isDirectory) names.push(...await tree(join(dir, entry.name), `${name}/`));
  }
  return names.sort();
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "snapcron-storage-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("LocalStorage.put() stores a stream that get() returns byte for byte", async () => {
  await withDir(async (dir) => {
    const storage = new LocalStorage({ path: join(dir, "backups") });
    const data = randomBytes(700 * KiB + 13);
    const progress: number[] = [];
    const result = await storage.put("etcd/job/2026.db", chunked(data), {
      onProgress: (bytes) => progress.push(bytes),
    });
    assert.deepEqual(result, {
      key: "etcd/job/2026.db",
      size: data.length,
      sha256: await sha256Hex(data),
    });
    assert.equal(progress.at(-1), data.length);
    assert.ok(progress.every((bytes, i) => i === 0 || bytes > (progress[i - 1] ?? 0)));
    assert.deepEqual(await readAll(await storage.get("etcd/job/2026.db")), data);
    assert.deepEqual(await tree(join(dir, "backups")), ["etcd/", "etcd/job/", "etcd/job/2026.db"]);
    assert.equal(storage.description, join(dir, "backups"));
  });
});

Deno.test("LocalStorage.put() stores an empty stream and replaces an object whole", async () => {
  await withDir(async (dir) => {
    const storage = new LocalStorage({ path: dir });
    const empty = await storage.put("empty", chunked(new Uint8Array(0)));
    assert.equal(empty.size, 0);
    assert.equal(empty.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    await storage.put("a", chunked(new TextEncoder().encode("old")));
    await storage.put("a", chunked(new TextEncoder().encode("new and longer")));
    assert.equal(await new Response(await storage.get("a")).text(), "new and longer");
  });
});

Deno.test("LocalStorage.put() leaves no file behind when the stream fails midway", async () => {
  await withDir(async (dir) => {
    const storage = new LocalStorage({ path: dir });
    await storage.put("db/x.db", chunked(new TextEncoder().encode("previous backup")));
    const data = randomBytes(512 * KiB);
    let sawTemp = false;
    const error = await storage.put(
      "db/x.db",
      chunked(data, {
        failAt: 300 * KiB,
        onEmit: () => {
          sawTemp ||= Deno.readDirSync(join(dir, "db")).some((e) => e.name.endsWith(".partial"));
        },
      }),
    ).then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof StorageError, `expected a StorageError, got ${error}`);
    assert.equal(error.code, "SourceFailed");
    assert.equal(error.key, "db/x.db");
    assert.match(error.message, /^Cannot upload "db\/x\.db" to .*: the source stream failed: disk/);
    assert.ok(sawTemp, "the upload never wrote to a temporary file");
    // The previous object is untouched and no temporary file remains.
    assert.deepEqual(await tree(dir), ["db/", "db/x.db"]);
    assert.equal(await new Response(await storage.get("db/x.db")).text(), "previous backup");

    const fresh = await storage.put("db/new.db", chunked(data, { failAt: 100 * KiB }))
      .then(() => undefined, (error: unknown) => error);
    assert.ok(fresh instanceof StorageError);
    assert.deepEqual(await tree(dir), ["db/", "db/x.db"]);
  });
});

Deno.test("LocalStorage.put() stops, cancels the source and cleans up when aborted", async () => {
  await withDir(async (dir) => {
    const storage = new LocalStorage({ path: dir });
    const controller = new AbortController();
    let cancelled: unknown;
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(stream): Promise<void> | void {
        if (sent >= 256 * KiB) {
          controller.abort(new DOMException("Run cancelled", "AbortError"));
          return new Promise(() => {}); // a source that would never end on its own
        }
        sent += 64 * KiB;
        stream.enqueue(new Uint8Array(64 * KiB));
      },
      cancel(reason) {
        cancelled = reason;
      },
    });
    const error = await storage.put("slow/x", body, { signal: controller.signal })
      .then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof StorageError);
    assert.equal(error.code, "Aborted");
    assert.match(error.message, /aborted: Run cancelled$/);
    assert.ok(cancelled !== undefined, "the source was not cancelled");
    assert.deepEqual(await tree(dir), ["slow/"]);
  });
});

Deno.test("LocalStorage rejects keys that could escape its directory", async () => {
  await withDir(async (dir) => {
    const root = join(dir, "root");
    await Deno.mkdir(root);
    const storage = new LocalStorage({ path: root });
    const bad = [
      "",
      "../x",
      "a/../../x",
      "a/..",
      "./a",
      "/etc/passwd",
      "a\\..\\..\\x",
      "a\0b",
      "a//b",
      "a/",
      "line\nbreak",
      "db/.x.db.0123456789ab.partial",
    ];
    for (const key of bad) {
      await assert.rejects(storage.put(key, chunked(new Uint8Array(1))), RangeError, `put ${key}`);
      await assert.rejects(storage.get(key), RangeError, `get ${key}`);
      await assert.rejects(storage.delete(["ok", key]), RangeError, `delete ${key}`);
    }
    await assert.rejects(storage.list("../"), RangeError);
    await assert.rejects(storage.list("/"), RangeError);
    await assert.rejects(
      storage.put("../x", chunked(new Uint8Array(1))),
      /^RangeError: Cannot upload "\.\.\/x" to .*: invalid key: it contains a "\.\." segment/,
    );
    assert.deepEqual(await tree(dir), ["root/"]);
  });
});

Deno.test("LocalStorage refuses to follow a symbolic link out of its directory", async () => {
  await withDir(async (dir) => {
    const root = join(dir, "root");
    const outside = join(dir, "outside");
    await Deno.mkdir(root);
    await Deno.mkdir(outside);
    await Deno.writeTextFile(join(outside, "secret"), "do not read");
    await Deno.symlink(outside, join(root, "link"));
    const storage = new LocalStorage({ path: root });
    const put = await storage.put("link/x", chunked(new Uint8Array(10)))
      .then(() => undefined, (error: unknown) => error);
    assert.ok(put instanceof StorageError);
    assert.equal(put.code, "Escape");
    assert.match(put.message, /a symbolic link leads outside the directory/);
    await assert.rejects(storage.get("link/secret"), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, "Escape");
      return true;
    });
    await assert.rejects(storage.delete(["link/secret"]), StorageDeleteError);
    const deeper = await storage.put("link/sub/x", chunked(new Uint8Array(10)))
      .then(() => undefined, (error: unknown) => error);
    assert.ok(deeper instanceof StorageError);
    assert.equal(deeper.code, "Escape");
    assert.deepEqual(await tree(outside), ["secret"]);
    assert.deepEqual(await storage.list(""), []);
  });
});

Deno.test("LocalStorage.list() walks folders, matches prefixes and skips temporary files", async () => {
  await withDir(async (dir) => {
    const storage = new LocalStorage({ path: dir });
    for (const key of ["etcd/a/1.db", "etcd/a/2.db", "etcd/ab/1.db", "es/x", "top"]) {
      await storage.put(key, chunked(new TextEncoder().encode(key)));
    }
    await Deno.writeTextFile(join(dir, "etcd", "a", ".3.db.0123456789ab.partial"), "partial");
    const all = await storage.list("");
    assert.deepEqual(all.map((o) => o.key), [
      "es/x",
      "etcd/a/1.db",
      "etcd/a/2.db",
      "etcd/ab/1.db",
      "top",
    ]);
    assert.deepEqual(all.map((o) => o.size), [4, 11, 11, 12, 3]);
    assert.ok(all.every((o) => Math.abs(o.lastModified.getTime() - Date.now()) < 60_000));
    assert.deepEqual((await storage.list("etcd/a/")).map((o) => o.key), [
      "etcd/a/1.db",
      "etcd/a/2.db",
    ]);
    assert.deepEqual((await storage.list("etcd/a")).map((o) => o.key), [
      "etcd/a/1.db",
      "etcd/a/2.db",
      "etcd/ab/1.db",
    ]);
    assert.deepEqual((await storage.list("etcd/a/1")).map((o) => o.key), ["etcd/a/1.db"]);
    assert.deepEqual(await storage.list("nothing/here/"), []);
    assert.deepEqual(await new LocalStorage({ path: join(dir, "missing") }).list(""), []);
  });
});

Deno.test("LocalStorage.delete() removes objects, ignores missing ones and names failures", async () => {
  await withDir(async (dir) => {
    const storage = new LocalStorage({ path: dir });
    for (const key of ["a/1", "a/2", "b"]) await storage.put(key, chunked(new Uint8Array(3)));
    await storage.delete(["a/1", "b", "never/there", "b"]);
    assert.deepEqual((await storage.list("")).map((o) => o.key), ["a/2"]);
    const error = await storage.delete(["a", "a/2"]).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof StorageDeleteError);
    assert.deepEqual(error.failures.map((f) => [f.key, f.code]), [["a", "EISDIR"]]);
    assert.match(error.message, /^Cannot delete 1 of 2 objects from .*: "a": EISDIR: it is a dir/);
    assert.deepEqual(await storage.list(""), []);
    await storage.delete([]);
  });
});

Deno.test("LocalStorage.get() of a missing key says so", async () => {
  await withDir(async (dir) => {
    const storage = new LocalStorage({ path: dir });
    await assert.rejects(storage.get("nope/x.db"), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, "ENOENT");
      assert.equal(
        error.message,
        `Cannot download "nope/x.db" from ${dir}: ENOENT: no such object`,
      );
      return true;
    });
  });
});

Deno.test("LocalStorage.cleanupStaleUploads() removes only old temporary files under the prefix", async () => {
  await withDir(async (dir) => {
    const storage = new LocalStorage({ path: dir });
    await storage.put("etcd/kept.db", chunked(new Uint8Array(5)));
    const old = join(dir, "etcd", ".x.db.00000000000a.partial");
    const young = join(dir, "etcd", ".y.db.00000000000b.partial");
    const elsewhere = join(dir, ".z.db.00000000000c.partial");
    for (const path of [old, young, elsewhere]) await Deno.writeTextFile(path, "partial");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await Deno.utime(old, twoHoursAgo, twoHoursAgo);
    await Deno.utime(elsewhere, twoHoursAgo, twoHoursAgo);

    assert.equal(await storage.cleanupStaleUploads("etcd/", 3600_000), 1);
    assert.deepEqual(await tree(dir), [
      ".z.db.00000000000c.partial",
      "etcd/",
      "etcd/.y.db.00000000000b.partial",
      "etcd/kept.db",
    ]);
    assert.equal(await storage.cleanupStaleUploads("etcd/y", 0), 1);
    assert.equal(await storage.cleanupStaleUploads("", 3600_000), 1);
    assert.deepEqual(await tree(dir), ["etcd/", "etcd/kept.db"]);
  });
});

Deno.test("LocalStorage.close() can be called twice and stops later calls", async () => {
  await withDir(async (dir) => {
    const storage = new LocalStorage({ path: dir });
    storage.close();
    storage.close();
    await assert.rejects(storage.list(""), /the storage is closed/);
  });
});

Deno.test("absolutePath() resolves against the working directory and collapses . and ..", () => {
  const cwd = Deno.cwd();
  assert.equal(absolutePath("/srv/backups"), "/srv/backups");
  assert.equal(absolutePath("/srv//backups/"), "/srv/backups");
  assert.equal(absolutePath("/srv/./a/../backups"), "/srv/backups");
  assert.equal(absolutePath("/.."), "/");
  assert.equal(absolutePath("/"), "/");
  assert.equal(absolutePath("backups"), `${cwd === "/" ? "" : cwd}/backups`);
  assert.equal(absolutePath("./a/../b"), `${cwd === "/" ? "" : cwd}/b`);
});
