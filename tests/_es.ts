/**
 * A private Elasticsearch node for tests that stop it, crash it or change cluster-wide settings,
 * which must never happen to the shared node of `scripts/services.sh`. It runs the same
 * unpacked integration-test zip, as the same unprivileged user, on free ports and a temporary
 * data directory.
 */
import { freePort } from "./_cli.ts";
import { type EsTestEnv, fetchJson } from "./_helpers.ts";

/** The user scripts/services.sh runs Elasticsearch as (it refuses to run as root). */
const ES_USER = "snapcron-es";

/** A throwaway node; `stop()` ends it, `start()` brings it back on the same ports and data. */
export interface PrivateEs extends EsTestEnv {
  /** Directory holding data, logs, config and `repo` (the node's `path.repo`). */
  dir: string;
  /** Kills the node's whole process group (`SIGKILL`: a crash) and awaits it. */
  stop(signal?: Deno.Signal): Promise<void>;
  /** Starts the node again and waits until it has a master and answers. */
  start(): Promise<void>;
  /** Stops the node and removes its directory; safe to call twice. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 240_000;

/** The last lines of the node's log, for an error message (the directory is removed after). */
async function logTail(file: string): Promise<string> {
  const text = await Deno.readTextFile(file).catch(() => "");
  const lines = text.split("\n").filter((line) => line !== "" && !/^\s+at /.test(line));
  return lines.length === 0 ? "(the log is empty)" : lines.slice(-8).join("\n");
}

/** Where services.sh unpacked the zip of the shared node's version. */
function esHome(version: string): string {
  const run = Deno.env.get("SNAPCRON_SERVICES_DIR") ?? "/tmp/snapcron-services";
  return `${run}/es-home/elasticsearch-${version}`;
}

/** The newest JDK under /usr/lib/jvm with at least `min` as its major version. */
async function javaHome(min: number): Promise<string> {
  const chosen = Deno.env.get("SNAPCRON_ES_JAVA_HOME");
  if (chosen) return chosen;
  let best: { dir: string; major: number } | undefined;
  for await (const entry of Deno.readDir("/usr/lib/jvm")) {
    const dir = `/usr/lib/jvm/${entry.name}`;
    const release = await Deno.readTextFile(`${dir}/release`).catch(() => "");
    const major = Number(/^JAVA_VERSION="(?:1\.)?(\d+)/m.exec(release)?.[1] ?? 0);
    if (major >= min && major > (best?.major ?? 0)) best = { dir, major };
  }
  if (!best) throw new Error(`No Java ${min}+ under /usr/lib/jvm for a private Elasticsearch`);
  return best.dir;
}

async function idOf(flag: "-u" | "-g"): Promise<number> {
  const output = await new Deno.Command("id", { args: [flag, ES_USER], stdout: "piped" }).output();
  if (!output.success) {
    throw new Error(`No user "${ES_USER}": run "scripts/services.sh up es" first, it creates it`);
  }
  return Number(new TextDecoder().decode(output.stdout).trim());
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await Deno.chown(path, uid, gid);
  for await (const entry of Deno.readDir(path)) {
    const child = `${path}/${entry.name}`;
    if (entry.isDirectory) await chownTree(child, uid, gid);
    else await Deno.chown(child, uid, gid);
  }
}

/**
 * Starts a single-node cluster like the shared one (same version, security off, `path.repo`
 * under its directory) and waits until it answers. Takes 20-40 s on this machine.
 */
export async function startPrivateEs(shared: EsTestEnv): Promise<PrivateEs> {
  const home = esHome(shared.version);
  const java = await javaHome(shared.version.startsWith("8.") ? 17 : 21);
  const [uid, gid] = [await idOf("-u"), await idOf("-g")];
  const dir = await Deno.makeTempDir({ prefix: "snapcron-private-es-" });
  const httpPort = freePort();
  const transportPort = freePort();
  for (const sub of ["data", "logs", "repo", "tmp"]) await Deno.mkdir(`${dir}/${sub}`);
  await new Deno.Command("cp", { args: ["-R", `${home}/config`, `${dir}/config`] }).output();
  await Deno.writeTextFile(
    `${dir}/config/elasticsearch.yml`,
    `cluster.name: snapcron-private
node.name: snapcron-private
discovery.type: single-node
network.host: 127.0.0.1
http.port: ${httpPort}
transport.port: ${transportPort}
path.data: ${dir}/data
path.logs: ${dir}/logs
path.repo: ["${dir}/repo"]
xpack.security.enabled: false
cluster.routing.allocation.disk.threshold_enabled: false
`,
  );
  await chownTree(dir, uid, gid);
  await Deno.chmod(dir, 0o755);
  const url = `http://127.0.0.1:${httpPort}`;

  let child: Deno.ChildProcess | undefined;
  let logged: Promise<void> = Promise.resolve();
  const stop = async (signal: Deno.Signal = "SIGKILL") => {
    if (!child) return;
    const running = child;
    child = undefined;
    try {
      // setsid made the node its own process group: the launcher and the server JVM go together.
      Deno.kill(-running.pid, signal);
    } catch {
      // Already gone.
    }
    await running.status;
    await logged;
  };
  const start = async () => {
    const log = await Deno.open(`${dir}/node.log`, { create: true, append: true });
    child = new Deno.Command("setsid", {
      args: [
        "setpriv",
        `--reuid=${ES_USER}`,
        `--regid=${ES_USER}`,
        "--init-groups",
        `${home}/bin/elasticsearch`,
      ],
      cwd: `${dir}/logs`,
      clearEnv: true,
      env: {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOME: dir,
        LANG: "C.UTF-8",
        ES_JAVA_HOME: java,
        ES_PATH_CONF: `${dir}/config`,
        ES_TMPDIR: `${dir}/tmp`,
        ES_JAVA_OPTS: "-Xms384m -Xmx384m",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    logged = child.stdout.pipeTo(log.writable).catch(() => {});
    // The JVM needs about 30 CPU seconds to start: under a parallel test run on two busy cores
    // that can take minutes (services.sh allows 240 s too).
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const status = await Promise.race([
        child.status,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 500)),
      ]);
      if (status !== undefined) {
        child = undefined;
        await logged;
        throw new Error(
          `Private Elasticsearch exited with ${status.code}: ${await logTail(`${dir}/node.log`)}`,
        );
      }
      // 408 is a health wait that timed out: the node is up with a red cluster (a test made it
      // red on purpose); 503 means no master yet.
      const healthy = await fetch(
        `${url}/_cluster/health?wait_for_status=yellow&timeout=1s`,
        { signal: AbortSignal.timeout(3000) },
      ).then(async (response) => {
        await response.body?.cancel();
        return response.status === 200 || response.status === 408;
      }, () => false);
      if (healthy) return;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `Private Elasticsearch did not answer on ${url} in ${
            START_TIMEOUT_MS / 1000
          } s: ${await logTail(
            `${dir}/node.log`,
          )}`,
        );
      }
    }
  };
  // A test that fails before close() must not leave a node running after the process ends.
  const onUnload = () => {
    if (child) {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Already removed.
    }
  };
  globalThis.addEventListener("unload", onUnload);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    globalThis.removeEventListener("unload", onUnload);
    await stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await start();
  } catch (error) {
    await close();
    throw error;
  }
  return { url, repoPath: `${dir}/repo`, version: shared.version, dir, stop, start, close };
}

/** A JSON request to a node at `url`: its parsed answer; an HTTP error status throws with the body. */
export async function esRequest(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const answer = await fetchJson(`${url}${path}`, { method, ...(body ? { body } : {}) });
  if (answer.status >= 300) {
    throw new Error(`${method} ${path}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return answer.body as Record<string, unknown>;
}

/**
 * Adds `docs` documents to `index` (created on first write when missing) in one refreshed bulk
 * request; with `textBytes`, each carries that much incompressible text, so that copying it
 * takes time under a throttled repository.
 */
export async function bulkDocs(
  url: string,
  index: string,
  docs: number,
  textBytes = 0,
): Promise<void> {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const lines = [];
  for (let n = 0; n < docs; n++) {
    const random = crypto.getRandomValues(new Uint8Array(textBytes));
    const text = Array.from(random, (byte) => alphabet[byte % alphabet.length]).join("");
    lines.push(JSON.stringify({ index: {} }), JSON.stringify(textBytes ? { n, text } : { n }));
  }
  const response = await fetch(`${url}/${index}/_bulk?refresh=true`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body: lines.join("\n") + "\n",
  });
  const text = await response.text();
  if (response.status !== 200 || (JSON.parse(text) as { errors?: boolean }).errors !== false) {
    throw new Error(`Bulk indexing into ${index}: HTTP ${response.status}: ${text.slice(0, 500)}`);
  }
}
