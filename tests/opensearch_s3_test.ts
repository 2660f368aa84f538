// snapcron's elasticsearch job kind against OpenSearch with an S3 repository: snapshots go
// through OpenSearch's repository-s3 plugin into the s3proxy test server, are listed, pruned by
// retention and restored. Needs s3proxy and OpenSearch (`scripts/services.sh up` starts both,
// `up s3 opensearch` just these). OpenSearch is not among tests/_helpers.ts' services, so its
// variable is read here, under the same rule: ignored with the reason in the name, or failing
// under CI=true.
import assert from "node:assert/strict";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { snapcron, tempConfig } from "./_cli.ts";
import { bulkDocs, esRequest } from "./_es.ts";
import { withBucket } from "./_s3.ts";
import { fetchJson, isCi, type S3TestEnv, serviceTest, uniqueName } from "./_helpers.ts";

const URL_VARIABLE = "SNAPCRON_TEST_OPENSEARCH_URL";
const HINT = `run "scripts/services.sh up opensearch" then eval "$(scripts/services.sh env)"`;

/** Registers a test needing OpenSearch and s3proxy, like `serviceTest` does for its services. */
function openSearchS3Test(
  name: string,
  fn: (env: { url: string; s3: S3TestEnv }) => Promise<void>,
): void {
  const readable = Deno.permissions.querySync({ name: "env", variable: URL_VARIABLE }).state ===
    "granted";
  const url = readable ? Deno.env.get(URL_VARIABLE)?.replace(/\/+$/, "") : undefined;
  if (url !== undefined && url !== "") {
    serviceTest(name, { services: ["s3"] }, ({ s3 }) => fn({ url, s3 }));
    return;
  }
  const notSet = readable ? "not set" : "not readable (run with --allow-env)";
  if (isCi()) {
    Deno.test({
      name,
      fn() {
        throw new Error(
          `Cannot reach the OpenSearch test server: ${URL_VARIABLE} ${notSet}; ${HINT}`,
        );
      },
    });
    return;
  }
  Deno.test({
    name: `${name} [ignored: ${URL_VARIABLE} ${notSet}; run scripts/services.sh up opensearch]`,
    ignore: true,
    fn() {},
  });
}

async function makeIndex(url: string, index: string, docs: number): Promise<void> {
  await esRequest(url, "PUT", `/${index}`, {
    settings: { number_of_shards: 1, number_of_replicas: 0 },
  });
  await bulkDocs(url, index, docs);
}

async function count(url: string, index: string): Promise<number> {
  await esRequest(url, "POST", `/${index}/_refresh`);
  const body = await esRequest(url, "GET", `/${index}/_count`);
  return body.count as number;
}

async function keysUnder(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token === undefined ? {} : { ContinuationToken: token }),
      }),
    );
    for (const object of page.Contents ?? []) keys.push(object.Key ?? "");
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys;
}

/** Waits until the restored index's primaries are started (restore returns before that). */
async function waitGreen(url: string, index: string): Promise<void> {
  const health = await esRequest(
    url,
    "GET",
    `/_cluster/health/${index}?wait_for_status=green&timeout=30s`,
  );
  assert.equal(health.status, "green", `restored index ${index}: ${JSON.stringify(health)}`);
}

/** Deletes what the test made in OpenSearch; the bucket itself is emptied by withBucket. */
async function cleanup(url: string, repo: string, indices: string[]): Promise<void> {
  const listed = await fetchJson(`${url}/_snapshot/${repo}/_all`);
  const names = ((listed.body as { snapshots?: { snapshot: string }[] })?.snapshots ?? [])
    .map((s) => s.snapshot);
  if (names.length > 0) {
    await fetchJson(`${url}/_snapshot/${repo}/${names.join(",")}`, { method: "DELETE" });
  }
  await fetchJson(`${url}/_snapshot/${repo}`, { method: "DELETE" });
  for (const index of indices) await fetchJson(`${url}/${index}`, { method: "DELETE" });
}

openSearchS3Test(
  "opensearch job: snapshots into an S3 repository, retention, list and a renamed restore",
  async ({ url, s3 }) => {
    await withBucket(s3, async ({ bucket, client }) => {
      const repo = uniqueName("snapcron-os-s3");
      const index = uniqueName("os-docs");
      const restoredIndex = `restored-${index}`;
      const docs = 321;
      await makeIndex(url, index, docs);
      const config = await tempConfig(`jobs:
  os-nightly:
    schedule: "@daily"
    elasticsearch:
      urls: ["${url}"]
      repository: { name: ${repo}, type: s3, settings: { bucket: ${bucket}, base_path: snapshots } }
      indices: ["${index}"]
      retention: { max_count: 1 }
`);
      try {
        for (let i = 0; i < 2; i++) {
          if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1100)); // names are per second
          const run = await snapcron(["once", "os-nightly", "--config", config]);
          assert.equal(run.code, 0, `run ${i + 1}:\n${run.stdout}\n${run.stderr}`);
        }

        const listed = await snapcron(["list", "os-nightly", "--config", config, "--json"]);
        assert.equal(listed.code, 0, listed.stderr);
        const snapshots = JSON.parse(listed.stdout) as { state: string; indices?: string[] }[];
        assert.equal(snapshots.length, 1, `max_count: 1 deleted the first: ${listed.stdout}`);
        assert.equal(snapshots[0]?.state, "SUCCESS", listed.stdout);

        // OpenSearch itself sees one snapshot, and it lives in the bucket.
        const inRepo = await esRequest(url, "GET", `/_snapshot/${repo}/_all`);
        assert.equal((inRepo.snapshots as unknown[]).length, 1, JSON.stringify(inRepo));
        // The repository's root blobs are under base_path; OpenSearch 3.x puts shard data under
        // a hashed prefix before it (`<bits>/snapshots/indices/…`, shard_path_type
        // HASHED_PREFIX), so check for base_path anywhere in the key.
        const rootKeys = await keysUnder(client, bucket, "snapshots/");
        assert.ok(rootKeys.includes("snapshots/index.latest"), rootKeys.join("\n"));
        const allKeys = await keysUnder(client, bucket, "");
        const outside = allKeys.filter((key) => !/^(?:[^/]+\/)?snapshots\//.test(key));
        assert.deepEqual(outside, [], "OpenSearch wrote outside base_path");
        assert.ok(
          allKeys.some((key) => /(?:^|\/)snapshots\/indices\/[^/]+\/0\//.test(key)),
          `no shard data in the bucket:\n${allKeys.join("\n")}`,
        );

        const restored = await snapcron([
          "restore",
          "os-nightly",
          "latest",
          "--config",
          config,
          "--rename-pattern",
          "(.+)",
          "--rename-replacement",
          "restored-$1",
        ]);
        assert.equal(restored.code, 0, `${restored.stdout}\n${restored.stderr}`);
        await waitGreen(url, restoredIndex);
        assert.equal(await count(url, restoredIndex), docs);
      } finally {
        await cleanup(url, repo, [index, restoredIndex]);
        await Deno.remove(config);
      }
    });
  },
);
