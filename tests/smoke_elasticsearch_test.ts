// Smoke test of the Elasticsearch test node: an index snapshotted into an fs repository.
import assert from "node:assert/strict";
import { fetchJson, serviceTest, uniqueName } from "./_helpers.ts";

interface SnapshotInfo {
  snapshot: string;
  state: string;
  indices: string[];
  shards?: { total: number; failed: number; successful: number };
}

serviceTest(
  "Elasticsearch snapshots an index into an fs repository and deletes it",
  { services: ["es"] },
  async ({ es }) => {
    const index = uniqueName("snapcron-smoke");
    const repository = uniqueName("snapcron-smoke-repo");
    const snapshot = uniqueName("snapcron-smoke-snap");
    const location = `${es.repoPath}/${repository}`;
    try {
      const doc = await fetchJson(`${es.url}/${index}/_doc/1?refresh=true`, {
        method: "PUT",
        body: { message: "snapcron smoke", at: new Date().toISOString() },
      });
      assert.equal(doc.status, 201, `indexing answered ${JSON.stringify(doc.body)}`);

      const repo = await fetchJson(`${es.url}/_snapshot/${repository}`, {
        method: "PUT",
        body: { type: "fs", settings: { location } },
      });
      assert.equal(repo.status, 200, `repository answered ${JSON.stringify(repo.body)}`);

      const created = await fetchJson(
        `${es.url}/_snapshot/${repository}/${snapshot}?wait_for_completion=true`,
        { method: "PUT", body: { indices: index, include_global_state: false } },
      );
      assert.equal(created.status, 200, `snapshot answered ${JSON.stringify(created.body)}`);
      const info = (created.body as { snapshot: SnapshotInfo }).snapshot;
      assert.equal(info.state, "SUCCESS");
      assert.deepEqual(info.indices, [index]);
      assert.equal(info.shards?.failed, 0);

      const listed = await fetchJson(`${es.url}/_snapshot/${repository}/_all`);
      assert.equal(listed.status, 200, `listing answered ${JSON.stringify(listed.body)}`);
      const snapshots = (listed.body as { snapshots: SnapshotInfo[] }).snapshots;
      assert.deepEqual(snapshots.map((s) => [s.snapshot, s.state]), [[snapshot, "SUCCESS"]]);

      const deleted = await fetchJson(`${es.url}/_snapshot/${repository}/${snapshot}`, {
        method: "DELETE",
      });
      assert.equal(deleted.status, 200, `snapshot delete answered ${JSON.stringify(deleted.body)}`);
      const empty = await fetchJson(`${es.url}/_snapshot/${repository}/_all`);
      assert.deepEqual((empty.body as { snapshots: SnapshotInfo[] }).snapshots, []);
    } finally {
      // Cleanup is best effort and ignores "not found": the assertions above tell what failed.
      await fetchJson(`${es.url}/_snapshot/${repository}/${snapshot}`, { method: "DELETE" });
      await fetchJson(`${es.url}/_snapshot/${repository}`, { method: "DELETE" });
      await fetchJson(`${es.url}/${index}`, { method: "DELETE" });
      // The node writes the repository as its own user; tests run as root or as that user.
      await Deno.remove(location, { recursive: true }).catch(() => {});
    }
  },
);
