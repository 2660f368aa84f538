/** Helpers for tests against real etcd servers: throwaway servers, etcdctl, key access. */
import { createHash } from "node:crypto";
import type { SnapshotStream } from "../src/etcd/mod.ts";
import { freePort } from "./_cli.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function b64(text: string): string {
  return encoder.encode(text).toBase64();
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export async function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
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
export function ctlFlags(etcd: { url: string; tls?: TlsFiles }, user?: string): string[] {
  const flags = [`--endpoints=${etcd.url}`];
  if (etcd.tls) {
    flags.push(`--cacert=${etcd.tls.ca}`, `--cert=${etcd.tls.clientCert}`);
    flags.push(`--key=${etcd.tls.clientKey}`);
  }
  if (user !== undefined) flags.push(`--user=${user}`);
  return flags;
}

export async function etcdctlSnapshot(
  etcd: { url: string; tls?: TlsFiles },
  file: string,
  user?: string,
): Promise<Uint8Array> {
  await run("etcdctl", [...ctlFlags(etcd, user), "snapshot", "save", file]);
  return await Deno.readFile(file);
}

export async function readAll(stream: SnapshotStream): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream.body).arrayBuffer());
}

export async function post(url: string, body: unknown, client?: Deno.HttpClient): Promise<unknown> {
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
export async function putKeys(url: string, prefix: string, count: number): Promise<void> {
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

export async function deletePrefix(url: string, prefix: string): Promise<void> {
  // range_end = prefix with its last byte plus one: every key that starts with prefix.
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  await post(`${url}/v3/kv/deleterange`, { key: b64(prefix), range_end: b64(end) });
}

export async function getValue(url: string, key: string): Promise<string | undefined> {
  const body = await post(`${url}/v3/kv/range`, { key: b64(key) }) as {
    kvs?: { value?: string }[];
  };
  const value = body.kvs?.[0]?.value;
  return value === undefined ? undefined : decoder.decode(Uint8Array.fromBase64(value));
}

export interface TlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  /** Client certificate without a Common Name (see REFERENCE.md). */
  clientCert: string;
  clientKey: string;
}

/** A throwaway etcd on free ports; `stop()` ends it and awaits the process. */
export interface TempEtcd {
  url: string;
  tls?: TlsFiles;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** An existing (restored) data directory; a fresh one in `dir` otherwise. */
  dataDir?: string;
  tls?: TlsFiles;
}

export async function startEtcd(dir: string, options: StartOptions = {}): Promise<TempEtcd> {
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
export async function makeCertificates(dir: string): Promise<TlsFiles> {
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

export async function hasCommand(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args: ["version"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

/** One member of a {@linkcode TempEtcdCluster}. */
export interface ClusterMember {
  name: string;
  url: string;
  /** Sends `signal` (SIGKILL by default) and awaits the exit; safe when already gone. */
  kill(signal?: Deno.Signal): Promise<void>;
  /** SIGSTOP: the member keeps its ports but answers nothing, like a hung or cut-off host. */
  freeze(): void;
}

/** A throwaway etcd cluster on free ports; `stop()` ends every member still running. */
export interface TempEtcdCluster {
  members: ClusterMember[];
  stop(): Promise<void>;
}

/**
 * Starts a private `size`-member etcd cluster in `dir` (never the shared one) and waits until
 * every member answers and one of them leads.
 */
export async function startEtcdCluster(dir: string, size = 3): Promise<TempEtcdCluster> {
  const ports = Array.from({ length: size }, (_, index) => ({
    name: `m${index + 1}`,
    client: freePort(),
    peer: freePort(),
  }));
  const initialCluster = ports.map(({ name, peer }) => `${name}=http://127.0.0.1:${peer}`)
    .join(",");
  const members: ClusterMember[] = [];
  for (const { name, client, peer } of ports) {
    const url = `http://127.0.0.1:${client}`;
    const child = new Deno.Command("etcd", {
      args: [
        `--name=${name}`,
        `--data-dir=${dir}/${name}`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=${initialCluster}`,
        "--initial-cluster-state=new",
        "--initial-cluster-token=" + dir,
        // Short heartbeats: a killed leader is replaced within about a second.
        "--heartbeat-interval=50",
        "--election-timeout=500",
        "--logger=zap",
        "--log-outputs=stderr",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const log = await Deno.open(`${dir}/${name}.log`, { create: true, write: true });
    const logged = child.stderr.pipeTo(log.writable).catch(() => {});
    let exited = false;
    const kill = async (signal: Deno.Signal = "SIGKILL") => {
      if (!exited) {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
      }
      await child.status;
      exited = true;
      await logged;
    };
    members.push({ name, url, kill, freeze: () => child.kill("SIGSTOP") });
  }
  const cluster: TempEtcdCluster = {
    members,
    stop: async () => {
      // Throwaway data: SIGKILL, since SIGTERM waits seconds for peers already gone.
      await Promise.all(members.map((member) => member.kill()));
    },
  };
  try {
    await clusterLeader(cluster, 30_000);
  } catch (error) {
    await cluster.stop();
    throw new Error(`etcd cluster in ${dir} did not start; logs in ${dir}`, { cause: error });
  }
  return cluster;
}

/**
 * The member that leads, as the members still answering agree (maintenance status); waits up to
 * `timeoutMs` for an election.
 */
export async function clusterLeader(
  cluster: TempEtcdCluster,
  timeoutMs = 10_000,
  skip: readonly ClusterMember[] = [],
): Promise<ClusterMember> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const live = cluster.members.filter((member) => !skip.includes(member));
      const answers = await Promise.all(
        live.map(async (member) => {
          const body = await post(`${member.url}/v3/maintenance/status`, {}) as {
            leader?: string;
            header?: { member_id?: string };
          };
          return { member, id: body.header?.member_id, leader: body.leader };
        }),
      );
      const leaders = new Set(answers.map((answer) => answer.leader));
      const [leaderId] = leaders;
      const leader = answers.find((answer) => answer.id === leaderId)?.member;
      if (leaders.size === 1 && leader !== undefined) return leader;
      last = new Error(`members disagree on the leader: ${[...leaders].join(", ")}`);
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error("No etcd leader elected", { cause: last });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
