import assert from "node:assert/strict";
import { collect, snapcron, spawnSnapcron, tempConfig, waitFor } from "./_cli.ts";

Deno.test("Command dumps go into local storage with manifests, retention, list and restore", async () => {
  const dir = await Deno.makeTempDir();
  const config = await tempConfig(`
storage:
  local: { type: local, path: "${dir}/backups" }
jobs:
  dump:
    schedule: "@daily"
    shell: 'n=$(cat ${dir}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${dir}/n; echo "dump number $n"; head -c 200000 /dev/zero'
    upload: { storage: local, key: "dumps/{job}/{time}-{run}.out.gz", compress: gzip }
    retention: { keep_last: 2 }
  broken:
    schedule: "@daily"
    shell: 'echo "half a dump"; exit 7'
    upload: { storage: local, key: "dumps/{job}/{time}-{run}.out" }
`);
  try {
    for (let i = 0; i < 3; i++) {
      const run = await snapcron(["once", "dump", "--config", config]);
      assert.equal(run.code, 0, run.stderr);
    }
    const listed = await snapcron(["list", "dump", "--config", config, "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const backups = JSON.parse(listed.stdout);
    assert.equal(backups.length, 2, "keep_last: 2 pruned the oldest");
    for (const backup of backups) {
      assert.equal(backup.job, "dump");
      assert.equal(backup.compress, "gzip");
      assert.match(backup.sha256, /^[0-9a-f]{64}$/);
      assert.ok(backup.size < backup.content_size, "gzip made it smaller");
      assert.equal(backup.present, true);
    }

    const target = `${dir}/restored.out`;
    const restored = await snapcron([
      "restore",
      "dump",
      "latest",
      "--to",
      target,
      "--config",
      config,
    ]);
    assert.equal(restored.code, 0, restored.stderr);
    const text = new TextDecoder().decode((await Deno.readFile(target)).subarray(0, 14));
    assert.equal(text, "dump number 3\n");
    assert.equal((await Deno.stat(target)).size, 14 + 200_000);

    const plan = await snapcron(["retention", "dump", "--dry-run", "--config", config]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /KEEP .*newest-success/);
    assert.match(plan.stdout, /0 to delete, 2 to keep/);

    const failed = await snapcron(["once", "broken", "--config", config]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /exited with status 7/);
    assert.deepEqual(
      await filesUnder(`${dir}/backups/dumps/broken`),
      [],
      "a failed command leaves no object, no manifest, no temp file",
    );

    // Corrupt the newest backup: restore refuses it and writes nothing.
    const newest = backups[0].key as string;
    const bytes = await Deno.readFile(`${dir}/backups/${newest}`);
    bytes[bytes.length - 10]! ^= 0xff;
    await Deno.writeFile(`${dir}/backups/${newest}`, bytes);
    const bad = await snapcron([
      "restore",
      "dump",
      newest,
      "--to",
      `${dir}/bad.out`,
      "--config",
      config,
    ]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /is corrupt: SHA-256 .* differs from the manifest's|incorrect|invalid|corrupt/i,
    );
    await assert.rejects(Deno.stat(`${dir}/bad.out`));
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(config);
  }
});

async function filesUnder(path: string): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) {
      if (entry.isDirectory) found.push(...await filesUnder(`${path}/${entry.name}`));
      else found.push(`${path}/${entry.name}`);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found;
}

Deno.test("retention.schedule runs the same pruning as a job of its own", async () => {
  const dir = await Deno.makeTempDir();
  const config = (keep: number) => `
storage:
  local: { type: local, path: "${dir}" }
jobs:
  dump:
    schedule: "@daily"
    shell: "echo data"
    upload: { storage: local, key: "{job}/{time}-{run}.txt" }
    retention: { keep_last: ${keep}, schedule: "@hourly" }
`;
  const file = await tempConfig(config(5));
  try {
    for (let i = 0; i < 3; i++) {
      assert.equal((await snapcron(["once", "dump", "--config", file])).code, 0);
    }
    const plan = await snapcron(["validate", "--config", file]);
    assert.match(
      plan.stdout,
      /dump\.retention \(retention\): applies the retention of "dump" on its own schedule/,
    );
    assert.match(plan.stdout, /group dump/, "backup and pruning never run together");
    await Deno.writeTextFile(file, config(1));
    const pruned = await snapcron(["once", "dump.retention", "--config", file]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stderr, /Retention deleted 2 backup\(s\) of "dump"/);
    const listed = JSON.parse(
      (await snapcron(["list", "dump", "--config", file, "--json"])).stdout,
    );
    assert.equal(listed.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(file);
  }
});

Deno.test("snapcron run removes unfinished uploads an earlier run left behind", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/dump`, { recursive: true });
  // What a killed upload leaves in local storage: a temporary file beside the final name.
  const leftover = `${dir}/dump/.20260101T000000Z.out.0123456789ab.partial`;
  await Deno.writeTextFile(leftover, "half a backup");
  await Deno.writeTextFile(`${dir}/dump/keep.txt`, "not ours to touch");
  const config = await tempConfig(`
status: { listen: "0" }
storage:
  local: { type: local, path: "${dir}" }
jobs:
  dump:
    schedule: "@yearly"
    shell: "echo data"
    upload: { storage: local, key: "dump/{time}.out" }
`);
  const child = spawnSnapcron(["run", "--config", config]);
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  try {
    await waitFor(
      "the clean-up",
      () =>
        Promise.resolve(
          stderr.text().includes("unfinished upload(s) left by an earlier run") || undefined,
        ),
    );
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Promise.all([stdout.done, stderr.done]);
  }
  await assert.rejects(Deno.stat(leftover), Deno.errors.NotFound);
  assert.equal(await Deno.readTextFile(`${dir}/dump/keep.txt`), "not ours to touch");
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(config);
});

Deno.test("snapcron once removes unfinished uploads too (a CronJob pod killed mid-upload)", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/dump`, { recursive: true });
  const leftover = `${dir}/dump/.20260101T000000Z.out.0123456789ab.partial`;
  await Deno.writeTextFile(leftover, "half a backup");
  const config = await tempConfig(`
storage:
  local: { type: local, path: "${dir}" }
jobs:
  dump:
    schedule: "@yearly"
    shell: "echo data"
    upload: { storage: local, key: "dump/{time}.out" }
`);
  try {
    const run = await snapcron(["once", "dump", "--config", config]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /Removed 1 unfinished upload\(s\) left by an earlier run/);
    await assert.rejects(Deno.stat(leftover), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(config);
  }
});
