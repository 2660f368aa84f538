// A backup in local storage is whole or absent, never half, when the disk fills up: a 4 MiB
// tmpfs takes command dumps that do not fit, or fit without their manifest.
import assert from "node:assert/strict";
import { snapcron, tempConfig } from "./_cli.ts";
import { isCi } from "./_helpers.ts";

const MiB = 1024 * 1024;
const NAME = "Disk full: a dump that does not fit, or fits without its manifest, leaves no file";

/** Why a tmpfs cannot be mounted here, or undefined when it can (tried on a scratch folder). */
async function mountProblem(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "mounting a tmpfs needs root";
  const dir = await Deno.makeTempDir();
  try {
    const mounted = await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
    if (mounted !== undefined) return `mount -t tmpfs failed: ${mounted}`;
    return await run("umount", [dir]);
  } finally {
    await Deno.remove(dir).catch(() => {});
  }
}

/** Runs a system command; its stderr when it fails, else undefined. */
async function run(command: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).output();
    return out.success ? undefined : new TextDecoder().decode(out.stderr).trim();
  } catch (error) {
    return (error as Error).message;
  }
}

/** Every file (not folder) below `dir`, relative to it. */
async function filesUnder(dir: string, base = ""): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/${base}`)) {
    const path = base === "" ? entry.name : `${base}/${entry.name}`;
    if (entry.isDirectory) found.push(...await filesUnder(dir, path));
    else found.push(path);
  }
  return found.sort();
}

async function diskFull(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "snapcron-full-" });
  const mounted = await run("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir]);
  assert.equal(mounted, undefined, `cannot mount a tmpfs on ${dir}`);
  const config = await tempConfig(`
storage:
  disk: { type: local, path: "${dir}" }
jobs:
  too-big:
    schedule: "@yearly"
    shell: "head -c ${8 * MiB} /dev/urandom"
    upload: { storage: disk, key: "dumps/{job}/{time}.bin" }
  exact:
    schedule: "@yearly"
    # Exactly the size of the file system: the dump fits, its manifest does not.
    shell: "head -c ${4 * MiB} /dev/urandom"
    upload: { storage: disk, key: "dumps/{job}/{time}.bin" }
  small:
    schedule: "@yearly"
    shell: "echo fits"
    upload: { storage: disk, key: "dumps/{job}/{time}.bin" }
`);
  try {
    const tooBig = await snapcron(["once", "too-big", "--config", config]);
    assert.equal(tooBig.code, 1, tooBig.stderr);
    assert.deepEqual(await filesUnder(dir), [], "no partial file, no temporary file, no manifest");

    const exact = await snapcron(["once", "exact", "--config", config]);
    assert.equal(exact.code, 1, exact.stderr);
    assert.match(
      exact.stderr,
      /Cannot upload "dumps\/exact\/\d{8}T\d{6}Z\.bin\.manifest\.json" to .*: ENOSPC: the file system is full/,
    );
    assert.deepEqual(await filesUnder(dir), [], "a dump without its manifest is removed");

    const small = await snapcron(["once", "small", "--config", config]);
    assert.equal(small.code, 0, `the space was given back: ${small.stderr}`);
    const stored = await filesUnder(dir);
    assert.equal(stored.length, 2, `${stored}`);
    assert.match(stored[0] ?? "", /^dumps\/small\/\d{8}T\d{6}Z\.bin$/);
    assert.equal(stored[1], `${stored[0]}.manifest.json`);

    assert.match(
      tooBig.stderr,
      /ENOSPC|no space left|file system is full/i,
      "the run must name the full disk, not the SIGPIPE or SIGTERM the command died of after; " +
        `stderr was:\n${tooBig.stderr}`,
    );
  } finally {
    await run("umount", [dir]);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(config);
  }
}

const problem = await mountProblem();
if (problem === undefined) {
  Deno.test(NAME, diskFull);
} else if (isCi()) {
  Deno.test(NAME, () => {
    throw new Error(`Cannot fill a disk here: ${problem}: run the tests as root under CI`);
  });
} else {
  Deno.test({ name: `${NAME} [ignored: ${problem}]`, ignore: true, fn() {} });
}
