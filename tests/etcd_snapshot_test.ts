// EtcdClient against real etcd: the shared test server for snapshots, status and fail over;
// throwaway servers (own ports, own temp dir) for restore, auth and TLS, so the shared one is
// never reconfigured.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { EtcdClient, EtcdError, type SnapshotStream } from "../src/etcd/mod.ts";
import { serviceTest, uniqueName } from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function b64(text: string): string {
  return encoder.encode(text).toBase64();
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A TCP port nothing listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(command, {
    args,
    env: { ETCDCTL_API: "3", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = decoder.decode(output.stdout);
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${output.code}): ${decoder.decode(output.stderr)}`,
    );
  }
  return stdout;
}

/** Flags that let etcdctl reach `etcd`. */
function ctlFlags(etcd: { url: string; tls?: TlsFiles }, user?: string): string[] {
  const flags = [`--endpoints=${etcd.url}`];
  if (etcd.tls) {
    flags.push(`--cacert=${etcd.tls.ca}`, `--cert=${etcd.tls.clientCert}`);
    flags.push(`--key=${etcd.tls.clientKey}`);
  }
  if (user !== undefined) flags.push(`--user=${user}`);
  return flags;
}

async function etcdctlSnapshot(
  etcd: { url: string; tls?: TlsFiles },
  file: string,
  user?: string,
): Promise<Uint8Array> {
  await run("etcdctl", [...ctlFlags(etcd, user), "snapshot", "save", file]);
  return await Deno.readFile(file);
}

async function readAll(stream: SnapshotStream): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream.body).arrayBuffer());
}

async function post(url: string, body: unknown, client?: Deno.HttpClient): Promise<unknown> {
  const response = await fetch(url, {
    method: "POST",
    body: JSON.stringify(body),
    ...(client === undefined ? {} : { client }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${url}: HTTP ${response.status}: ${text}`);
  return JSON.parse(text);
}

/** Puts `count` keys `${prefix}/00042` in transactions of 100 (etcd allows 128 ops). */
async function putKeys(url: string, prefix: string, count: number): Promise<void> {
  const batches: Promise<unknown>[] = [];
  for (let start = 0; start < count; start += 100) {
    const success = [];
    for (let index = start; index < Math.min(count, start + 100); index++) {
      const key = `${prefix}/${String(index).padStart(5, "0")}`;
      success.push({ requestPut: { key: b64(key), value: b64(`value ${index} `.repeat(8)) } });
    }
    batches.push(post(`${url}/v3/kv/txn`, { success }));
  }
  await Promise.all(batches);
}

async function deletePrefix(url: string, prefix: string): Promise<void> {
  // range_end = prefix with its last byte plus one: every key that starts with prefix.
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  await post(`${url}/v3/kv/deleterange`, { key: b64(prefix), range_end: b64(end) });
}

async function getValue(url: string, key: string): Promise<string | undefined> {
  const body = await post(`${url}/v3/kv/range`, { key: b64(key) }) as {
    kvs?: { value?: string }[];
  };
  const value = body.kvs?.[0]?.value;
  return value === undefined ? undefined : decoder.decode(Uint8Array.fromBase64(value));
}

interface TlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  /** Client certificate without a Common Name (see REFERENCE.md). */
  clientCert: string;
  clientKey: string;
}

/** A throwaway etcd on free ports; `stop()` ends it and awaits the process. */
interface TempEtcd {
  url: string;
  tls?: TlsFiles;
  stop(): Promise<void>;
}

interface StartOptions {
  /** An existing (restored) data directory; a fresh one in `dir` otherwise. */
  dataDir?: string;
  tls?: TlsFiles;
}

async function startEtcd(dir: string, options: StartOptions = {}): Promise<TempEtcd> {
  const clientPort = freePort();
  const peerPort = freePort();
  const scheme = options.tls ? "https" : "http";
  const url = `${scheme}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    "--name=default",
    `--data-dir=${options.dataDir ?? `${dir}/data`}`,
    `--listen-client-urls=${url}`,
    `--advertise-client-urls=${url}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`,
    "--logger=zap",
    "--log-outputs=stderr",
  ];
  if (options.tls) {
    args.push(`--cert-file=${options.tls.serverCert}`, `--key-file=${options.tls.serverKey}`);
    args.push("--client-cert-auth", `--trusted-ca-file=${options.tls.ca}`);
  }
  const child = new Deno.Command("etcd", { args, stdin: "null", stdout: "null", stderr: "piped" })
    .spawn();
  const log = await Deno.open(`${dir}/etcd-${clientPort}.log`, { create: true, write: true });
  const logged = child.stderr.pipeTo(log.writable).catch(() => {});
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await child.status;
    await logged;
  };
  const client = options.tls
    ? Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(options.tls.ca)],
      cert: await Deno.readTextFile(options.tls.clientCert),
      key: await Deno.readTextFile(options.tls.clientKey),
    })
    : Deno.createHttpClient({});
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await post(`${url}/v3/maintenance/status`, {}, client);
        break;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`etcd on ${url} did not start; log in ${dir}`, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.close();
  }
  return { url, ...(options.tls ? { tls: options.tls } : {}), stop };
}

/** Makes a CA, a server certificate for 127.0.0.1 and a client certificate without CN. */
async function makeCertificates(dir: string): Promise<TlsFiles> {
  const files: TlsFiles = {
    ca: `${dir}/ca.pem`,
    serverCert: `${dir}/server.pem`,
    serverKey: `${dir}/server.key`,
    clientCert: `${dir}/client.pem`,
    clientKey: `${dir}/client.key`,
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const caKey = `${dir}/ca.key`;
  await run(
    "openssl",
    ["req", "-x509", ...ec, "-keyout", caKey, "-out", files.ca, "-days", "1"]
      .concat(["-subj", "/CN=snapcron test CA"]),
  );
  const sign = async (name: string, subject: string, extensions: string) => {
    await Deno.writeTextFile(`${dir}/${name}.ext`, extensions);
    await run(
      "openssl",
      ["req", ...ec, "-keyout", `${dir}/${name}.key`]
        .concat(["-out", `${dir}/${name}.csr`, "-subj", subject]),
    );
    await run(
      "openssl",
      ["x509", "-req", "-in", `${dir}/${name}.csr`, "-CA", files.ca]
        .concat(["-CAkey", caKey, "-CAcreateserial", "-days", "1", "-out", `${dir}/${name}.pem`])
        .concat(["-extfile", `${dir}/${name}.ext`]),
    );
  };
  await sign(
    "server",
    "/CN=etcd",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  // No CN: with client-cert auth and etcd auth both on, the gateway refuses a cert with one.
  await sign("client", "/O=snapcron", "extendedKeyUsage=clientAuth\n");
  return files;
}

async function hasCommand(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args: ["version"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

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
              /^Cannot authenticate to etcd at "https:.*(BadCertificate|broken pipe).*"certFile"/,
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
