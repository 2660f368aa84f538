// EtcdClient against real etcd: the shared test server for snapshots, status and fail over;
// throwaway servers (own ports, own temp dir) for restore, auth and TLS, so the shared one is
// never reconfigured.
import assert from "node:assert/strict";
import { EtcdClient, EtcdError, type SnapshotStream } from "../src/etcd/mod.ts";
import {
  ctlFlags,
  deletePrefix,
  etcdctlSnapshot,
  getValue,
  hasCommand,
  makeCertificates,
  putKeys,
  readAll,
  run,
  sha256,
  startEtcd,
} from "./_etcd.ts";
import { freePort } from "./_cli.ts";
import { serviceTest, uniqueName } from "./_helpers.ts";

const OPENSSL = await hasCommand("openssl");

serviceTest(
  "EtcdClient.snapshot() over gRPC and the gateway equals etcdctl's file byte for byte, and restores",
  { services: ["etcd"] },
  async ({ etcd }) => {
    const prefix = `/snapcron-test/${uniqueName("snap")}`;
    const dir = await Deno.makeTempDir({ prefix: "snapcron-etcd-" });
    const client = new EtcdClient({ endpoints: [etcd.url] });
    try {
      await putKeys(etcd.url, prefix, 3000);
      let grpc: SnapshotStream | undefined;
      let grpcBytes: Uint8Array = new Uint8Array(0);
      // Other tests may write to the shared server: only a pair of etcdctl snapshots that agree
      // proves that nothing changed while ours were taken.
      for (let attempt = 1;; attempt++) {
        const before = await etcdctlSnapshot(etcd, `${dir}/before-${attempt}.db`);
        grpc = await client.snapshot({ transport: "grpc" });
        grpcBytes = await readAll(grpc);
        const gateway = await client.snapshot({ transport: "gateway" });
        const gatewayBytes = await readAll(gateway);
        const after = await etcdctlSnapshot(etcd, `${dir}/after-${attempt}.db`);
        if (sha256(before) !== sha256(after)) {
          assert.ok(attempt < 5, "etcd kept changing during 5 attempts");
          continue;
        }
        assert.equal(grpc.transport, "grpc");
        assert.equal(gateway.transport, "gateway");
        assert.equal(sha256(grpcBytes), sha256(before), "gRPC snapshot differs from etcdctl's");
        assert.equal(sha256(gatewayBytes), sha256(before), "gateway snapshot differs");
        assert.deepEqual(grpcBytes, before);
        assert.deepEqual(gatewayBytes, before);
        assert.deepEqual(await gateway.done, await grpc.done);
        break;
      }
      const done = await grpc.done;
      assert.equal(done.size, grpcBytes.length);
      assert.equal(done.size % 512, 32);
      assert.equal(done.sha256, grpcBytes.subarray(-32).toHex());
      assert.equal(done.sha256, sha256(grpcBytes.subarray(0, -32)));

      // etcdctl restore checks the hash; a second etcd must serve our keys from it.
      const file = `${dir}/grpc.db`;
      await Deno.writeFile(file, grpcBytes);
      const peer = `http://127.0.0.1:${freePort()}`;
      await run("etcdctl", [
        "snapshot",
        "restore",
        file,
        `--data-dir=${dir}/restored`,
        "--name=default",
        `--initial-cluster=default=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
      ]);
      const restored = await startEtcd(dir, { dataDir: `${dir}/restored` });
      try {
        assert.equal(await getValue(restored.url, `${prefix}/02999`), "value 2999 ".repeat(8));
        assert.equal(await getValue(restored.url, `${prefix}/03000`), undefined);
      } finally {
        await restored.stop();
      }
    } finally {
      client.close();
      await deletePrefix(etcd.url, prefix);
      await Deno.remove(dir, { recursive: true });
    }
  },
);

serviceTest("EtcdClient.status() reports the member", { services: ["etcd"] }, async ({ etcd }) => {
  const client = new EtcdClient({ endpoints: [etcd.url] });
  try {
    const status = await client.status();
    assert.equal(status.endpoint, etcd.url);
    assert.match(status.version, /^3\.\d+\.\d+$/);
    assert.ok(status.dbSize > 0 && Number.isSafeInteger(status.dbSize));
    assert.match(status.memberId, /^[1-9]\d*$/);
    // One member: it leads.
    assert.equal(status.leader, status.memberId);
    assert.match(status.raftIndex, /^[1-9]\d*$/);
    assert.match(status.revision, /^[1-9]\d*$/);
    const json = JSON.parse(
      await run("etcdctl", [...ctlFlags(etcd), "endpoint", "status", "-w=json"]),
    );
    assert.equal(json[0]?.Status?.version, status.version);
  } finally {
    client.close();
  }
});

serviceTest(
  "EtcdClient fails over from a closed port to etcd and names every endpoint when all are down",
  { services: ["etcd"] },
  async ({ etcd }) => {
    const closed = `http://127.0.0.1:${freePort()}`;
    const client = new EtcdClient({ endpoints: [closed, etcd.url] });
    try {
      assert.equal((await client.status()).endpoint, etcd.url);
      for (const transport of ["grpc", "gateway", "auto"] as const) {
        const stream = await client.snapshot({ transport });
        assert.equal(stream.endpoint, etcd.url);
        assert.equal((await readAll(stream)).length, (await stream.done).size);
      }
    } finally {
      client.close();
    }
    const otherClosed = `http://127.0.0.1:${freePort()}`;
    const down = new EtcdClient({ endpoints: [closed, otherClosed] });
    try {
      await assert.rejects(down.snapshot(), (error) => {
        assert.ok(error instanceof EtcdError);
        assert.equal(error.code, "Unavailable");
        assert.match(error.message, /^Cannot take a snapshot from any etcd endpoint: /);
        assert.ok(error.message.includes(`"${closed}": tcp connect error: Connection refused`));
        assert.ok(error.message.includes(`"${otherClosed}": tcp connect error`));
        return true;
      });
    } finally {
      down.close();
    }
  },
);

serviceTest(
  "EtcdClient.snapshot() body cancelled mid-stream releases everything",
  { services: ["etcd"] },
  async ({ etcd }) => {
    const prefix = `/snapcron-test/${uniqueName("cancel")}`;
    const client = new EtcdClient({ endpoints: [etcd.url] });
    try {
      // Enough data for a snapshot of several 32 KiB messages.
      await putKeys(etcd.url, prefix, 1000);
      for (const transport of ["grpc", "gateway"] as const) {
        const stream = await client.snapshot({ transport });
        const reader = stream.body.getReader();
        const first = await reader.read();
        assert.equal(first.done, false);
        await reader.cancel(new Error("upload failed"));
        await assert.rejects(stream.done, (error) => {
          assert.ok(error instanceof EtcdError);
          assert.equal(error.code, "Cancelled");
          return true;
        });
      }
      // The client still works after a cancelled stream.
      const again = await client.snapshot();
      assert.equal((await readAll(again)).length % 512, 32);
    } finally {
      client.close();
      await deletePrefix(etcd.url, prefix);
    }
  },
);

serviceTest(
  "EtcdClient authenticates with a password on an etcd with auth enabled",
  { services: ["etcd"] },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "snapcron-etcd-auth-" });
    const etcd = await startEtcd(dir);
    const root = "root:Root-pass-1";
    try {
      await run("etcdctl", [...ctlFlags(etcd), "put", "/auth-test/key", "secret value"]);
      await run("etcdctl", [...ctlFlags(etcd), "user", "add", root]);
      await run("etcdctl", [...ctlFlags(etcd), "auth", "enable"]);
      await run("etcdctl", [...ctlFlags(etcd, root), "user", "add", "reader:Reader-pass-1"]);

      const client = new EtcdClient({
        endpoints: [etcd.url],
        username: "root",
        password: "Root-pass-1",
      });
      try {
        const grpc = await readAll(await client.snapshot({ transport: "grpc" }));
        const gateway = await readAll(await client.snapshot({ transport: "gateway" }));
        const reference = await etcdctlSnapshot(etcd, `${dir}/ctl.db`, root);
        assert.equal(sha256(grpc), sha256(reference));
        assert.equal(sha256(gateway), sha256(reference));
        assert.match((await client.status()).version, /^3\./);
      } finally {
        client.close();
      }

      const wrong = new EtcdClient({
        endpoints: [etcd.url],
        username: "root",
        password: "Wrong-pass-1",
      });
      try {
        await assert.rejects(wrong.snapshot(), (error) => {
          assert.ok(error instanceof EtcdError);
          assert.equal(error.code, "InvalidArgument");
          assert.equal(error.endpoint, etcd.url);
          assert.equal(
            error.message,
            `Cannot authenticate to etcd at "${etcd.url}" as user "root": etcdserver: authentication failed, invalid user ID or password (check the username and password)`,
          );
          assert.ok(!error.message.includes("Wrong-pass-1"));
          return true;
        });
      } finally {
        wrong.close();
      }

      // A user without the root role, and no user at all: refused, each with a hint.
      const reader = new EtcdClient({
        endpoints: [etcd.url],
        username: "reader",
        password: "Reader-pass-1",
      });
      const anonymous = new EtcdClient({ endpoints: [etcd.url] });
      try {
        for (const transport of ["grpc", "gateway", "auto"] as const) {
          await assert.rejects(reader.snapshot({ transport }), (error) => {
            assert.ok(error instanceof EtcdError, String(error));
            assert.equal(error.code, "PermissionDenied", error.message);
            assert.match(error.message, /auth: permission denied.*root role/);
            return true;
          });
          await assert.rejects(anonymous.snapshot({ transport }), (error) => {
            assert.ok(error instanceof EtcdError, String(error));
            assert.equal(error.code, "Unauthenticated", error.message);
            assert.match(error.message, /auth: user name is empty/);
            return true;
          });
        }
      } finally {
        reader.close();
        anonymous.close();
      }
    } finally {
      await etcd.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

function tlsTest(name: string, fn: () => Promise<void>): void {
  if (OPENSSL) serviceTest(name, { services: ["etcd"] }, fn);
  else Deno.test({ name: `${name} [ignored: openssl not found]`, ignore: true, fn() {} });
}

tlsTest(
  "EtcdClient takes snapshots over https with a CA, a client certificate and a password",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "snapcron-etcd-tls-" });
    try {
      const tls = await makeCertificates(dir);
      const etcd = await startEtcd(dir, { tls });
      const root = "root:Root-pass-2";
      try {
        await run("etcdctl", [...ctlFlags(etcd), "put", "/tls-test/key", "value"]);
        await run("etcdctl", [...ctlFlags(etcd), "user", "add", root]);
        await run("etcdctl", [...ctlFlags(etcd), "auth", "enable"]);
        const options = {
          endpoints: [etcd.url],
          username: "root",
          password: "Root-pass-2",
          caFile: tls.ca,
          certFile: tls.clientCert,
          keyFile: tls.clientKey,
        };
        const client = new EtcdClient(options);
        try {
          const grpc = await client.snapshot({ transport: "grpc" });
          const grpcBytes = await readAll(grpc);
          const gatewayBytes = await readAll(await client.snapshot({ transport: "gateway" }));
          const reference = await etcdctlSnapshot(etcd, `${dir}/ctl.db`, root);
          assert.equal(sha256(grpcBytes), sha256(reference));
          assert.equal(sha256(gatewayBytes), sha256(reference));
          assert.equal(grpc.endpoint, etcd.url);
          assert.equal((await client.status()).endpoint, etcd.url);
        } finally {
          client.close();
        }

        // Without the client certificate etcd drops the connection: as TLS 1.3 ends the
        // handshake before the server checks the certificate, the client sees either the
        // "BadCertificate" alert or a broken pipe.
        const { certFile: _cert, keyFile: _key, ...withoutCert } = options;
        const noCert = new EtcdClient(withoutCert);
        try {
          await assert.rejects(noCert.snapshot(), (error) => {
            assert.ok(error instanceof EtcdError);
            assert.equal(error.code, "Unavailable");
            assert.match(
              error.message,
              /^Cannot authenticate to etcd at "https:.*(BadCertificate|broken pipe|connection closed).*"cert_file"/,
            );
            return true;
          });
        } finally {
          noCert.close();
        }
        // gRPC over TLS without a user: etcd answers with headers and puts its refusal in the
        // trailers, which fetch cannot read; auto mode asks the gateway for the reason.
        const { username: _user, password: _password, ...anonymousOptions } = options;
        const anonymous = new EtcdClient(anonymousOptions);
        try {
          await assert.rejects(
            anonymous.snapshot({ transport: "grpc" }),
            /ended the gRPC stream without data/,
          );
          await assert.rejects(anonymous.snapshot(), /auth: user name is empty/);
        } finally {
          anonymous.close();
        }
      } finally {
        await etcd.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
