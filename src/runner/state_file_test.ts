import assert from "node:assert/strict";
import { silentLogger } from "../log/mod.ts";
import { persistStore, readStateFile, type RunRecord, RunStore, writeStateFile } from "./mod.ts";

function failed(job: string): RunRecord {
  return {
    job,
    id: "r1",
    trigger: "schedule",
    startedAt: new Date("2026-01-01T00:00:00Z"),
    endedAt: new Date("2026-01-01T00:00:01Z"),
    result: "failure",
    exitStatus: 2,
    attempts: 1,
    stdout: "",
    stderr: "boom\n",
    artifacts: [],
  };
}

Deno.test("persistStore() keeps finished runs across a restart", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/state.json`;
  try {
    const first = new RunStore();
    const stop = await persistStore(first, path, silentLogger());
    first.finish(failed("backup"));
    await stop();
    const second = new RunStore();
    const stopAgain = await persistStore(second, path, silentLogger());
    const state = second.get("backup")!;
    assert.equal(state.history[0]?.exitStatus, 2);
    assert.ok(state.history[0]?.startedAt instanceof Date, "dates come back as dates");
    assert.equal(state.lastFailure?.stderr, "boom\n");
    await stopAgain();
    const leftovers = [...Deno.readDirSync(dir)].map((entry) => entry.name);
    assert.deepEqual(leftovers, ["state.json"], "no temporary files left");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readStateFile() treats a missing file as empty and names a broken one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await readStateFile(`${dir}/none.json`), {});
    await Deno.writeTextFile(`${dir}/bad.json`, "{ not json");
    await assert.rejects(
      readStateFile(`${dir}/bad.json`),
      /Cannot read state file ".*bad\.json": .*fix or delete the file/,
    );
    await writeStateFile(`${dir}/ok.json`, {});
    assert.deepEqual(await readStateFile(`${dir}/ok.json`), {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
