// Smoke test of the etcd test server through its v3 JSON gateway, with plain fetch.
import assert from "node:assert/strict";
import { fetchJson, serviceTest, uniqueName } from "./_helpers.ts";

function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  return btoa(Array.from(bytes, (byte) => String.fromCharCode(byte)).join(""));
}

function fromBase64(encoded: string): string {
  const binary = atob(encoded);
  return new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
}

interface RangeBody {
  count?: string;
  kvs?: { key: string; value?: string }[];
}

interface StatusBody {
  version?: string;
  dbSize?: string;
  header?: { revision?: string };
}

serviceTest(
  "etcd gateway puts a key and reads it back",
  { services: ["etcd"] },
  async ({ etcd }) => {
    const key = toBase64(`/snapcron-smoke/${uniqueName("key")}`);
    const value = `snapcron smoke ✓ ${Date.now()}`;
    try {
      const put = await fetchJson(`${etcd.url}/v3/kv/put`, {
        method: "POST",
        body: { key, value: toBase64(value) },
      });
      assert.equal(put.status, 200, `put answered ${JSON.stringify(put.body)}`);

      const range = await fetchJson(`${etcd.url}/v3/kv/range`, { method: "POST", body: { key } });
      assert.equal(range.status, 200, `range answered ${JSON.stringify(range.body)}`);
      const body = range.body as RangeBody;
      assert.equal(body.count, "1");
      assert.equal(body.kvs?.[0]?.key, key);
      assert.equal(fromBase64(body.kvs?.[0]?.value ?? ""), value);
    } finally {
      await fetchJson(`${etcd.url}/v3/kv/deleterange`, { method: "POST", body: { key } });
    }
  },
);

serviceTest(
  "etcd gateway answers maintenance status with a 3.x version",
  { services: ["etcd"] },
  async ({ etcd }) => {
    const status = await fetchJson(`${etcd.url}/v3/maintenance/status`, {
      method: "POST",
      body: {},
    });
    assert.equal(status.status, 200, `status answered ${JSON.stringify(status.body)}`);
    const body = status.body as StatusBody;
    assert.match(body.version ?? "", /^3\.\d+\.\d+/);
    // int64 fields come as decimal strings through the gateway.
    assert.match(body.dbSize ?? "", /^\d+$/);
  },
);
