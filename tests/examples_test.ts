// The configs users copy from examples/ must stay valid as snapcron changes.
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { parseConfig } from "../src/config/mod.ts";

const env = (name: string) =>
  ({ ETCD_PASSWORD: "example-password" } as Record<string, string>)[name];

Deno.test("examples/compose-snapcron.yaml is a valid config", async () => {
  const text = await Deno.readTextFile(
    new URL("../examples/compose-snapcron.yaml", import.meta.url),
  );
  const config = parseConfig(text, "examples/compose-snapcron.yaml", { env });
  assert.deepEqual(config.jobs.map((job) => job.name), ["es-hourly"]);
});

for (const file of ["daemon.yaml", "cronjob.yaml"]) {
  Deno.test(`the snapcron.yaml inside examples/kubernetes/${file} is a valid config`, async () => {
    const text = await Deno.readTextFile(
      new URL(`../examples/kubernetes/${file}`, import.meta.url),
    );
    const maps = parseAllDocuments(text).map((doc) => doc.toJS()).filter((doc) =>
      doc?.kind === "ConfigMap"
    );
    assert.ok(maps.length > 0, "a ConfigMap carries the config");
    for (const map of maps) {
      const config = parseConfig(
        map.data["snapcron.yaml"],
        `${file}: ConfigMap ${map.metadata.name}`,
        { env },
      );
      assert.ok(config.jobs.length > 0);
    }
  });
}
