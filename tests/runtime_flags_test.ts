// The V8 flags snapcron runs with are written in four places: the `start` and `snapcron` tasks,
// the `compile` task (baked into the binary) and the Dockerfile's compile step. They must agree,
// and they must expose gc(): an upload collects garbage every 128 MiB stored with it, and
// without it its memory grows with the object's size (src/storage/_multipart.ts).
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;

function v8Flags(where: string, text: string): string {
  const found = text.match(/--v8-flags=(\S+?)"?(?:\s|$)/);
  assert.ok(found, `${where} passes no --v8-flags`);
  return found[1]!;
}

Deno.test("the tasks, the compile task and the Dockerfile run V8 with the same flags, gc() exposed", async () => {
  const { tasks } = JSON.parse(await Deno.readTextFile(`${root}deno.json`)) as {
    tasks: Record<string, string>;
  };
  const dockerfile = await Deno.readTextFile(`${root}Dockerfile`);
  const compileLine = dockerfile.split("\n").find((line) =>
    /^RUN .*scripts\/compile\.sh/.test(line)
  );
  assert.ok(compileLine, "the Dockerfile runs no scripts/compile.sh");
  const sources: Record<string, string | undefined> = {
    "task start": tasks.start,
    "task snapcron": tasks.snapcron,
    "task compile": tasks.compile,
    "Dockerfile": compileLine,
  };
  const flags = Object.fromEntries(
    Object.entries(sources).map(([where, text]) => [where, v8Flags(where, text ?? "")]),
  );
  for (const [where, value] of Object.entries(flags)) {
    assert.equal(value, flags["task snapcron"], `${where} differs from the snapcron task`);
  }
  assert.ok(flags["task snapcron"]!.split(",").includes("--expose-gc"), "gc() is not exposed");
});
