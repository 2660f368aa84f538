// The compiled binary end to end. `deno compile` needs denort, which this project's machines
// cannot download (see README "Binary and images"): without DENORT_BIN the test says so and is
// ignored, under CI too, since no registry this project reaches carries it.
import assert from "node:assert/strict";
import { freePort, tempConfig, waitFor } from "./_cli.ts";
import { isCi, readTestEnv } from "./_helpers.ts";
import { withBucket } from "./_s3.ts";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";

const denort = Deno.env.get("DENORT_BIN");
const root = new URL("../", import.meta.url).pathname;

Deno.test({
  name: "the compiled binary answers version, validate and run like main.ts" +
    (denort ? "" : " [ignored: DENORT_BIN not set; deno compile needs a denort runtime]"),
  ignore: !denort,
  async fn() {
    const build = await new Deno.Command("bash", {
      args: ["scripts/compile.sh"],
      cwd: root,
      env: { DENORT_BIN: denort! },
    }).output();
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
    const binary = `${root}dist/snapcron`;
    const version = await new Deno.Command(binary, { args: ["version"] }).output();
    assert.match(new TextDecoder().decode(version.stdout), /^snapcron \d+\.\d+\.\d+/);
    const port = freePort();
    const config = await tempConfig(`
status: { listen: "127.0.0.1:${port}" }
jobs:
  bad: { schedule: "* * * * * *", shell: "exit 3" }
`);
    const validate = await new Deno.Command(binary, { args: ["validate", "--config", config] })
      .output();
    assert.equal(validate.code, 0);
    const child = new Deno.Command(binary, {
      args: ["run", "--config", config],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const status = await waitFor("a failed run", async () => {
        const response = await fetch(`http://127.0.0.1:${port}/`);
        const body = await response.json();
        return body.Last.ExitTime ? response.status : undefined;
      });
      assert.equal(status, 503);
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal((await child.status).code, 0);
    await Deno.remove(config);

    // The S3 code is loaded on first use through an import() the module graph does not follow
    // (src/storage/_lazy.ts): the binary must carry it (`--include` in scripts/compile.sh).
    const s3 = readTestEnv(["s3"]);
    if (!s3.ok) {
      assert.ok(!isCi(), `S3 service missing under CI: ${s3.missing.join(", ")}`);
      return;
    }
    const { s3: env } = s3.env;
    await withBucket(env, async ({ bucket, client }) => {
      const upload = await tempConfig(`
storage:
  s3: { type: s3, bucket: ${bucket}, endpoint: "${env.endpoint}", region: ${env.region},
        access_key_id: ${env.accessKeyId}, secret_access_key: ${env.secretAccessKey} }
jobs:
  dump: { schedule: "@yearly", shell: "echo compiled", upload: { storage: s3 } }
`);
      const once = await new Deno.Command(binary, { args: ["once", "dump", "--config", upload] })
        .output();
      assert.equal(once.code, 0, new TextDecoder().decode(once.stderr));
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      assert.ok((listed.Contents ?? []).some((object) => object.Key?.startsWith("dump/")));
      await Deno.remove(upload);
    });
  },
});
