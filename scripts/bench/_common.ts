/**
 * Shared plumbing of the by-hand benchmarks: measuring child processes the same way for snapcron
 * and its peers (wall time, user+sys CPU, peak RSS), the load average during a run, wrk, the etcd
 * loader and the sections of `docs/benchmarks.md` that each benchmark rewrites.
 */
import { post } from "../../tests/_etcd.ts";
import { freePort, PERMISSIONS } from "../../tests/_cli.ts";

export { freePort, PERMISSIONS };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The repository's root, where `deno.json` lives. */
export const ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/**
 * The flags of deno.json's `snapcron` task that tune the runtime (not permissions): the
 * benchmarks run snapcron as the task, the binary and the image do.
 */
export const RUNTIME_FLAGS: readonly string[] = (() => {
  const { tasks } = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)) as {
    tasks: Record<string, string>;
  };
  return (tasks.snapcron ?? "").split(/\s+/).filter((flag) => flag.startsWith("--v8-flags="));
})();

/** `deno run` flags for snapcron: the task's runtime flags and permissions. */
export const SNAPCRON_FLAGS: readonly string[] = [...RUNTIME_FLAGS, ...PERMISSIONS];

/** Prints one line to stdout. */
export function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

/** The middle value (the upper one of an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Nearest-rank percentile `p` (0–100) of `values`; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil(p / 100 * sorted.length));
  return sorted[rank - 1]!;
}

export const KiB = 1024;
export const MiB: number = 1024 * KiB;
export const GiB: number = 1024 * MiB;

/** `8MiB`, `1GiB`, `512KiB`, `1000000`: bytes. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$/i.exec(text);
  if (!match) throw new RangeError(`Invalid size "${text}": write e.g. "8MiB" or "1GiB"`);
  const units: Record<string, number> = {
    b: 1,
    kib: KiB,
    mib: MiB,
    gib: GiB,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
  };
  return Math.round(Number(match[1]) * units[(match[2] ?? "b").toLowerCase()]!);
}

/** `2s`, `500ms`, `1m`, `10`: seconds. */
export function parseSeconds(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (!match) throw new RangeError(`Invalid duration "${text}": write e.g. "2s" or "1m"`);
  const factor = { ms: 0.001, s: 1, m: 60 }[(match[2] ?? "s") as "s"];
  return Number(match[1]) * factor;
}

/** `1 GiB`, `8 MiB`: sizes in tables. */
export function formatSize(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  if (bytes >= MiB) return `${Number((bytes / MiB).toFixed(1))} MiB`;
  return `${Number((bytes / KiB).toFixed(1))} KiB`;
}

/** A positive whole number from a flag, with the flag's name in the error. */
export function wholeFlag(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Invalid --${name} "${text}": expected a whole number from 1`);
  }
  return value;
}

/** What one measured child process cost. */
export interface Measured {
  /** From spawn to exit, measured by the parent. */
  wallS: number;
  userS: number;
  sysS: number;
  /** Peak resident set size of the largest process in the tree, in bytes (`ru_maxrss`). */
  maxRss: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode measure}. */
export interface MeasureOptions {
  env?: Record<string, string>;
  /** Variables to drop from the inherited environment. */
  unsetEnv?: string[];
  cwd?: string;
  /** Writes the child's standard input; it is closed afterwards. */
  feed?: (stdin: WritableStream<Uint8Array>) => Promise<void>;
}

/**
 * Runs `command` under `/usr/bin/time`, which reports the user and system CPU seconds and the
 * peak RSS of the command and all its waited-for descendants: the same yardstick for snapcron
 * (a `deno run` child) and for each peer.
 */
export async function measure(
  command: string,
  args: string[],
  options: MeasureOptions = {},
): Promise<Measured> {
  const report = await Deno.makeTempFile({ prefix: "snapcron-bench-time-" });
  const env = { ...Deno.env.toObject(), ...options.env };
  for (const name of options.unsetEnv ?? []) delete env[name];
  try {
    const started = performance.now();
    const child = new Deno.Command("/usr/bin/time", {
      args: ["-f", "%U %S %M", "-o", report, command, ...args],
      clearEnv: true,
      env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdin: options.feed === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const fed = options.feed === undefined ? Promise.resolve() : options.feed(child.stdin);
    const [output] = await Promise.all([
      child.output(),
      fed.catch((error) => {
        throw new Error(`Feeding ${command} failed: ${error}`, { cause: error });
      }),
    ]);
    const wallS = (performance.now() - started) / 1000;
    const text = await Deno.readTextFile(report);
    // A failing command makes time(1) write "Command exited with non-zero status N" first.
    const last = text.trim().split("\n").at(-1) ?? "";
    const [user, sys, rss] = last.split(" ").map(Number);
    return {
      wallS,
      userS: user ?? NaN,
      sysS: sys ?? NaN,
      maxRss: (rss ?? NaN) * KiB,
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    await Deno.remove(report).catch(() => {});
  }
}

/** Throws with the child's output when it failed. */
export function checked(what: string, result: Measured): Measured {
  if (result.code !== 0) {
    throw new Error(
      `${what} failed with exit code ${result.code}:\n${result.stderr.slice(-4000)}${
        result.stdout.slice(-2000)
      }`,
    );
  }
  return result;
}

/**
 * Writes `total` bytes of incompressible data into `stdin` in 1 MiB writes, from a 16 MiB random
 * pool (the same bytes for every tool), then closes it.
 */
export function feedBytes(total: number): (stdin: WritableStream<Uint8Array>) => Promise<void> {
  return async (stdin) => {
    const pool = randomBytes(16 * MiB);
    const writer = stdin.getWriter();
    try {
      let written = 0;
      while (written < total) {
        const offset = written % pool.length;
        const length = Math.min(MiB, total - written, pool.length - offset);
        await writer.write(pool.subarray(offset, offset + length));
        written += length;
      }
      await writer.close();
    } catch (error) {
      await writer.abort(error).catch(() => {});
      throw error;
    }
  };
}

let randomPool: Uint8Array | undefined;

function randomBytes(length: number): Uint8Array {
  if (randomPool?.length === length) return randomPool;
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65_536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65_536));
  }
  randomPool = bytes;
  return bytes;
}

/** Samples the 1-minute load average every second while a benchmark runs. */
export class LoadSampler {
  readonly #samples: number[] = [];
  readonly #timer: ReturnType<typeof setInterval>;

  /** Starts sampling at once. */
  constructor() {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), 1000);
  }

  /** Stops sampling; safe to call twice. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** `min 1.2, median 2.3, max 3.4 (N samples)`. */
  summary(): string {
    const values = this.#samples;
    if (values.length === 0) return "not sampled";
    return `min ${Math.min(...values).toFixed(2)}, median ${median(values).toFixed(2)}, max ${
      Math.max(...values).toFixed(2)
    } (${values.length} samples, 1 per second)`;
  }

  #sample(): void {
    try {
      const first = Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
      this.#samples.push(Number(first));
    } catch {
      // Not Linux: no load average.
    }
  }
}

/** Date, cores, CPU model, memory, kernel and Deno version, as Markdown bullet lines. */
export function machineFacts(load: LoadSampler): string {
  let cpu = "unknown CPU";
  let memory = "unknown";
  try {
    cpu = /model name\s*:\s*(.+)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? cpu;
    const kib = Number(/MemTotal:\s*(\d+)/.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1]);
    memory = `${(kib / 1024 / 1024).toFixed(1)} GiB`;
  } catch {
    // Not Linux.
  }
  return [
    `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}`,
    `- Machine: nproc ${navigator.hardwareConcurrency}, ${cpu}, ${memory} RAM, ${Deno.build.os} ${Deno.osRelease()}, Deno ${Deno.version.deno}`,
    `- Load average (1 min) during the run: ${load.summary()}`,
    `- Code: ${codeVersion()}`,
  ].join("\n");
}

/** `commit 1234abc` plus the uncommitted changes under src/, which the figures include. */
function codeVersion(): string {
  const git = (...args: string[]) => {
    const output = new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "null" })
      .outputSync();
    return output.success ? decoder.decode(output.stdout).trim() : "";
  };
  const commit = git("rev-parse", "--short", "HEAD") || "unknown";
  const changed = git("status", "--porcelain", "--", "src", "main.ts", "deno.json")
    .split("\n").filter((line) => line !== "").length;
  return `commit ${commit}${
    changed > 0 ? ` with ${changed} uncommitted change(s) under src/, main.ts, deno.json` : ""
  }`;
}

/** One row of a results table. */
export interface Row {
  figure: string;
  snapcron: string;
  peer: string;
  ratio: string;
  target: string;
  /** `met`, `MISSED` or `n/a`. */
  met: string;
  command: string;
}

/** A Markdown table of `rows`. */
export function table(rows: readonly Row[]): string {
  const lines = [
    "| figure | snapcron | peer | ratio | target | met | command |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const row of rows) {
    const cells = [row.figure, row.snapcron, row.peer, row.ratio, row.target, row.met, row.command];
    lines.push(`| ${cells.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`);
  }
  return lines.join("\n");
}

/** `met` or `MISSED`. */
export function verdict(ok: boolean): string {
  return ok ? "met" : "MISSED";
}

/** Whether `ratio` as the table shows it (two decimals) is at least `limit`. */
export function atLeast(ratio: number, limit: number): boolean {
  return Number(ratio.toFixed(2)) >= limit;
}

/** Whether `ratio` as the table shows it (two decimals) is at most `limit`. */
export function atMost(ratio: number, limit: number): boolean {
  return Number(ratio.toFixed(2)) <= limit;
}

/** The command that reproduces a benchmark: `deno task bench NAME ARGS`. */
export function benchCommand(name: string, args: readonly string[]): string {
  return `\`deno task bench ${[name, ...args].join(" ")}\``;
}

/** The `--doc` file, `docs/benchmarks.md` by default. */
export function docPath(flag: string | undefined): string {
  return flag ?? `${ROOT}/docs/benchmarks.md`;
}

const DOC_HEAD = `# Benchmarks

Written by \`deno task bench\` (\`scripts/bench/main.ts\`); each section by its own benchmark,
which rewrites only its section. The machine is small (2 cores) and shared with other work, so
every figure is compared with a peer **measured in the same run** (rounds interleave the tools),
and medians of several runs are reported; the ratios are what count, not the bare numbers, and a
ratio target is judged on the ratio as shown (two decimals).
Wall time, CPU (user + system seconds) and peak RSS of every tool, snapcron included, come from
\`/usr/bin/time\` around a child process, so all are measured the same way.

Run one benchmark with \`deno task bench NAME [FLAGS]\` (the command in each row reproduces it),
all of them with \`deno task bench\`, and a quick check that none crashes (tiny inputs, a throwaway
document, about a minute) with \`deno task bench smoke\`. The real servers come from
\`eval "$(scripts/services.sh env)"\`; the benchmarks need \`rclone\`, \`aws\`, \`wrk\`, \`etcdctl\`,
\`go\` with Debian's \`golang-github-robfig-cron-dev\`, and GNU \`time\`.
`;

/** Replaces (or appends) the section of benchmark `name` in the Markdown file `file`. */
export async function writeSection(file: string, name: string, markdown: string): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    text = DOC_HEAD;
  }
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${begin}\n\n${markdown.trim()}\n\n${end}`;
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) {
    text = text.slice(0, from) + block + text.slice(to + end.length);
  } else {
    text = `${text.trimEnd()}\n\n${block}\n`;
  }
  // The head is this file's, whatever an older run wrote.
  const first = text.indexOf("<!-- bench:");
  text = `${DOC_HEAD}\n${text.slice(first)}`;
  await Deno.writeTextFile(file, text);
  // The table cells are long; let deno fmt lay them out as the repository's gate expects.
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", file], cwd: ROOT })
    .output();
}

/** How to reach the S3 test server; `scripts/services.sh env` exports it. */
export interface S3Env {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/** The S3 server from the `SNAPCRON_TEST_S3_*` variables, else s3proxy's defaults. */
export function s3Env(): S3Env {
  return {
    endpoint: Deno.env.get("SNAPCRON_TEST_S3_ENDPOINT") ?? "http://127.0.0.1:19000",
    accessKeyId: Deno.env.get("SNAPCRON_TEST_S3_ACCESS_KEY") ?? "snapcron-test",
    secretAccessKey: Deno.env.get("SNAPCRON_TEST_S3_SECRET_KEY") ?? "snapcron-test-secret",
    region: Deno.env.get("SNAPCRON_TEST_S3_REGION") ?? "us-east-1",
  };
}

/**
 * Environment for `aws` against `s3`: credentials, and a fresh config file in `dir` with
 * 16 MiB parts and 4 requests in flight (what S3Storage and rclone are given).
 */
export async function awsEnv(s3: S3Env, dir: string): Promise<Record<string, string>> {
  const env: Record<string, string> = {
    AWS_CONFIG_FILE: `${dir}/aws-config`,
    AWS_SHARED_CREDENTIALS_FILE: `${dir}/aws-credentials`,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_DEFAULT_REGION: s3.region,
  };
  for (
    const [key, value] of [
      ["default.s3.multipart_chunksize", "16MB"],
      ["default.s3.max_concurrent_requests", "4"],
    ]
  ) {
    const output = await new Deno.Command("aws", {
      args: ["configure", "set", key!, value!],
      env,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(`aws configure set ${key} failed: ${decoder.decode(output.stderr)}`);
    }
  }
  return env;
}

/** Polls `url` until it answers with any HTTP status; returns the milliseconds waited. */
export async function waitForHttp(url: string, timeoutMs = 20_000, everyMs = 5): Promise<number> {
  const started = performance.now();
  for (;;) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      return performance.now() - started;
    } catch (error) {
      if (performance.now() - started > timeoutMs) {
        throw new Error(`Nothing answered on ${url} within ${timeoutMs} ms`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}

/** Sends `signal` to each child that still runs and waits for all of them to end. */
export async function stopChildren(
  children: readonly Deno.ChildProcess[],
  signal: Deno.Signal,
): Promise<void> {
  for (const child of children) {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
  await Promise.allSettled(children.map((child) => child.status));
}

/** `VmRSS` or `VmHWM` of a live process, in bytes. */
export function procMemory(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = new RegExp(`${field}:\\s*(\\d+)\\s*kB`).exec(status)?.[1];
  if (kib === undefined) throw new Error(`No ${field} in /proc/${pid}/status`);
  return Number(kib) * KiB;
}

/** What wrk reported. */
export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

/** `wrk -t2 -c64 -dNs --latency URL`, parsed. */
export async function wrk(
  url: string,
  seconds: number,
  options: { threads?: number; connections?: number } = {},
): Promise<WrkResult> {
  const output = await new Deno.Command("wrk", {
    args: [
      `-t${options.threads ?? 2}`,
      `-c${options.connections ?? 64}`,
      `-d${Math.max(1, Math.round(seconds))}s`,
      "--latency",
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(output.stdout);
  if (!output.success) throw new Error(`wrk failed: ${decoder.decode(output.stderr)}${text}`);
  return parseWrk(text);
}

/** Parses wrk's `--latency` report. */
export function parseWrk(text: string): WrkResult {
  const rps = /Requests\/sec:\s*([\d.]+)/.exec(text)?.[1];
  const requests = /(\d+) requests in/.exec(text)?.[1];
  if (rps === undefined || requests === undefined) {
    throw new Error(`Cannot read wrk's report:\n${text}`);
  }
  const latency = (p: string) => {
    const match = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(text);
    if (!match) throw new Error(`No ${p}% latency in wrk's report:\n${text}`);
    return Number(match[1]) * { us: 0.001, ms: 1, s: 1000 }[match[2] as "ms"];
  };
  const errors = [...text.matchAll(/(?:connect|read|write|timeout) (\d+)/g)]
    .reduce((sum, match) => sum + Number(match[1]), 0) +
    Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  return {
    requestsPerSecond: Number(rps),
    p50Ms: latency("50"),
    p99Ms: latency("99"),
    requests: Number(requests),
    errors,
  };
}

/**
 * Loads `megabytes` of values of 100 KB (random, so incompressible) into the etcd at `url`,
 * 10 values per transaction, 8 transactions in flight; `from` offsets the key numbers, so a second
 * call adds to the first.
 */
export async function loadEtcd(url: string, megabytes: number, from = 0): Promise<void> {
  const values = Math.ceil(megabytes * 1_000_000 / 100_000);
  const transactions: number[][] = [];
  for (let index = 0; index < values; index += 10) {
    transactions.push(
      Array.from({ length: Math.min(10, values - index) }, (_, k) => from + index + k),
    );
  }
  const random = new Uint8Array(100_000);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < transactions.length) {
      const keys = transactions[next++]!;
      const success = keys.map((key) => {
        for (let offset = 0; offset < random.length; offset += 65_536) {
          crypto.getRandomValues(random.subarray(offset, offset + 65_536));
        }
        return {
          requestPut: {
            key: encoder.encode(`/bench/${String(key).padStart(6, "0")}`).toBase64(),
            value: random.toBase64(),
          },
        };
      });
      await post(`${url}/v3/kv/txn`, { success });
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** `1.23` (two decimals), or `n/a` for NaN. */
export function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

/** A config with 10 command jobs that never fire while the benchmark runs. */
export function tenJobsConfig(port: number, options: { runOnStart?: boolean } = {}): string {
  const jobs = Array.from({ length: 10 }, (_, index) =>
    `  job-${index}:
    schedule: "@yearly"
    shell: "echo backup ${index} done"
${options.runOnStart ? "    run_on_start: true\n" : ""}`).join("");
  return `status:
  listen: "127.0.0.1:${port}"
jobs:
${jobs}`;
}
