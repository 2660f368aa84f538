import assert from "node:assert/strict";
import { commandJob } from "../jobs/mod.ts";
import { createLogger, silentLogger } from "../log/mod.ts";
import {
  BoundedOutput,
  Dispatcher,
  type Job,
  type JobContext,
  type JobSpec,
  LineSplitter,
  type PreparedStart,
  runJob,
  type RunJobOptions,
  type RunRecord,
  RunStore,
} from "./mod.ts";

const log = silentLogger();

function shellJob(name: string, script: string): Job {
  return commandJob(name, { shell: script });
}

function spec(job: Job, extra: Partial<JobSpec> = {}): JobSpec {
  return { job, overlap: "skip", ...extra };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The two ways a command starts: spawned by the run ("cold"), and prepared ahead of time, as the
 * scheduler does shortly before a slot ("prepared").
 */
const STARTS: Record<string, (job: Job, options: RunJobOptions) => Promise<RunRecord>> = {
  cold: (job, options) => runJob(job, options),
  prepared: async (job, options) => {
    const prepared = job.prepare?.();
    assert.ok(prepared, "a command job prepares its start");
    await pause(50);
    return runJob(job, { ...options, prepared });
  },
};

/**
 * True while `pid` runs; a zombie waiting for its reaper counts as dead. Read by a shell: Deno
 * lets only --allow-all read /proc.
 */
async function alive(pid: number): Promise<boolean> {
  const { stdout } = await new Deno.Command("/bin/sh", {
    args: ["-c", `cat /proc/${pid}/stat 2>/dev/null`],
  }).output();
  const stat = new TextDecoder().decode(stdout);
  return stat !== "" && !/^\d+ \(.*\) Z/.test(stat);
}

/** Processes whose command line contains `text` (pgrep -f), other than the one asking. */
async function processesWith(text: string): Promise<string[]> {
  const { stdout } = await new Deno.Command("pgrep", { args: ["-a", "-f", text] }).output();
  return new TextDecoder().decode(stdout).split("\n").filter((line) =>
    line && !line.includes("pgrep")
  );
}

Deno.test("BoundedOutput keeps head and tail of a chatty stream", () => {
  const output = new BoundedOutput(10);
  for (let i = 0; i < 100; i++) output.append(`line ${i}\n`);
  const text = output.toString();
  assert.ok(text.startsWith("line 0\nlin"));
  assert.ok(text.endsWith("\nline 99\n"));
  assert.match(text, /\[… \d+ characters omitted …\]/);
  assert.ok(text.length < 80);
});

Deno.test("LineSplitter() emits whole lines across chunk boundaries", () => {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  splitter.push("ab");
  splitter.push("c\r\nde\nf");
  splitter.flush();
  assert.deepEqual(lines, ["abc", "de", "f"]);
});

for (const [how, start] of Object.entries(STARTS)) {
  Deno.test(`runJob() runs a script as /bin/sh -c would (${how} start)`, async () => {
    const script = 'echo "$0|$#|${__snapcron_script-unset}|$(cat)"; no-such-command-here; exit 4';
    const record = await start(shellJob("script", script), { log });
    assert.deepEqual(record.stdout, "/bin/sh|0|unset|\n", "name, no arguments, empty input");
    assert.match(record.stderr, /^\/bin\/sh: 1: eval: no-such-command-here: not found\n$/);
    assert.deepEqual(record.exitStatus, 4);
    assert.deepEqual(record.error, "Command exited with status 4");
  });

  Deno.test(`runJob() records output, exit status and pid of a command (${how} start)`, async () => {
    const lines: string[] = [];
    const record = await start(shellJob("echo", "echo out; echo err >&2; exit 3"), {
      log: createLogger({ write: (line) => lines.push(line) }),
    });
    assert.deepEqual(record.result, "failure");
    assert.deepEqual(record.exitStatus, 3);
    assert.deepEqual(record.stdout, "out\n");
    assert.deepEqual(record.stderr, "err\n");
    assert.ok(record.pid !== undefined && record.pid > 0);
    assert.ok(record.endedAt !== undefined);
    assert.ok(
      lines.some((line) => line.includes("[echo] out")),
      "stdout is logged with the job name",
    );
  });
}

Deno.test("runJob() reports a failed output store, not the SIGPIPE the command died of after", async () => {
  const job = commandJob("dump", {
    shell: "yes dump",
    stdoutSink: async (stdout) => {
      const reader = stdout.getReader();
      await reader.read();
      // A full disk, say: the store stops reading; the command dies of SIGPIPE before the store
      // has finished failing.
      await reader.cancel();
      await new Promise((resolve) => setTimeout(resolve, 300));
      throw new Error("no space left on device");
    },
  });
  const record = await runJob(job, { log });
  assert.deepEqual(record.result, "failure");
  assert.deepEqual(record.exitStatus, 1);
  assert.deepEqual(record.error, "Storing the output failed: no space left on device");
});

Deno.test("runJob() reports a failed output store read through a pipe, not the SIGPIPE after", async () => {
  const job = commandJob("dump", {
    shell: "yes dump",
    stdoutSink: async (stdout) => {
      // Compression, say: the pipe reads the command's output ahead of the store, so a read is
      // waiting when the store gives up and cancels.
      const reader = stdout.pipeThrough(new TransformStream()).getReader();
      await reader.read();
      await reader.cancel();
      await pause(300);
      throw new Error("no space left on device");
    },
  });
  const record = await runJob(job, { log });
  assert.deepEqual(record.error, "Storing the output failed: no space left on device");
});

Deno.test("runJob() reports a failed command, not the store it made fail", async () => {
  const job = commandJob("dump", {
    shell: "echo partial; exit 3",
    stdoutSink: async (stdout) => {
      for await (const _ of stdout) {
        // Stored.
      }
      return {};
    },
  });
  const record = await runJob(job, { log });
  assert.deepEqual(record.exitStatus, 3);
  assert.deepEqual(record.error, "Command exited with status 3");
});

for (const [how, start] of Object.entries(STARTS)) {
  Deno.test(`runJob() passes env and workdir to the command (${how} start)`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const job = commandJob("env", {
        argv: ["/bin/sh", "-c", 'echo "$GREETING $(pwd)"'],
        env: { GREETING: "hi" },
        workdir: dir,
      });
      const record = await start(job, { log });
      assert.deepEqual(record.stdout.trim(), `hi ${await Deno.realPath(dir)}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`runJob() reports a missing program as exit 127 with its name (${how} start)`, async () => {
    const record = await start(commandJob("missing", { argv: ["/no/such/program"] }), { log });
    assert.deepEqual(record.exitStatus, 127);
    assert.deepEqual(record.error, `Cannot run "/no/such/program": command not found`);
  });

  Deno.test(`runJob() reports a program it may not execute as exit 126 with its name (${how} start)`, async () => {
    const file = await Deno.makeTempFile();
    try {
      const record = await start(commandJob("denied", { argv: [file] }), { log });
      assert.deepEqual(record.exitStatus, 126);
      assert.deepEqual(record.error, `Cannot run "${file}": permission denied`);
    } finally {
      await Deno.remove(file);
    }
  });

  Deno.test(`runJob() runs the command in a process group of its own, named by the pid (${how} start)`, async () => {
    // Fields 5 and 6 of /proc/PID/stat: process group and session.
    const record = await start(shellJob("group", "cut -d' ' -f5,6 /proc/$$/stat"), { log });
    const [group, session] = record.stdout.trim().split(" ").map(Number);
    assert.deepEqual(group, record.pid, `pid ${record.pid}, stdout ${record.stdout}`);
    // No session of its own: a new session gets a scheduler group of its own, slow to get a CPU
    // on a busy machine.
    const plain = await new Deno.Command("/bin/sh", { args: ["-c", "cut -d' ' -f6 /proc/$$/stat"] })
      .output();
    const ours = Number(new TextDecoder().decode(plain.stdout));
    assert.deepEqual(session, ours, `our session ${ours}, stdout ${record.stdout}`);
  });
}

Deno.test("runJob() announces a command's run with its pid, once started", async () => {
  const seen: (number | undefined)[] = [];
  await runJob(shellJob("announced", "exit 0"), {
    log,
    onUpdate: (record) => seen.push(record.pid),
  });
  assert.ok(seen.length > 0 && seen[0] !== undefined, `first update has a pid: ${seen}`);
});

Deno.test("runJob() cancelled the moment it starts stops the command at once", async () => {
  const controller = new AbortController();
  const started = Date.now();
  const record = await runJob(shellJob("short-lived", "sleep 30"), {
    log,
    signal: controller.signal,
    killGraceMs: 20_000,
    // Right after the spawn, before the process may have made its own process group.
    onUpdate: () => controller.abort(),
  });
  assert.deepEqual(record.result, "cancelled");
  assert.ok(Date.now() - started < 10_000, "SIGTERM reached it, not the SIGKILL after grace");
});

for (const [how, start] of Object.entries(STARTS)) {
  Deno.test(`runJob() timeout stops the whole process group, then kills it (${how} start)`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      // The shell ignores SIGTERM so that only the kill after the grace period ends it; its
      // background child must die with it.
      const script = `trap '' TERM; sleep 30 & echo $! > ${dir}/child; wait`;
      const started = Date.now();
      const record = await start(shellJob("slow", script), {
        log,
        timeoutMs: 300,
        killGraceMs: 300,
      });
      assert.deepEqual(record.result, "timeout");
      assert.deepEqual(record.exitStatus, 124);
      assert.match(record.error ?? "", /Timed out after 300ms/);
      assert.ok(Date.now() - started < 5000, "the run ended soon after timeout plus grace");
      const child = Number(await Deno.readTextFile(`${dir}/child`));
      await pause(100);
      assert.ok(!(await alive(child)), "the background child was killed with the group");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("runJob() with a prepared start runs the command on the go, in the process made before", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Field 22 of /proc/PID/stat: the start in clock ticks after boot; /proc/uptime: now.
    const script = `touch ${dir}/ran; ` +
      `echo $(cut -d' ' -f22 /proc/$$/stat) $(getconf CLK_TCK) $(cut -d' ' -f1 /proc/uptime)`;
    const job = shellJob("prepared", script);
    const prepared = job.prepare!()!;
    await pause(500);
    assert.ok(!existsSync(`${dir}/ran`), "nothing ran before the go");
    const record = await runJob(job, { log, prepared });
    assert.deepEqual(record.result, "success", record.stderr);
    const [ticks, perSecond, uptime] = record.stdout.trim().split(" ").map(Number);
    const age = uptime! - ticks! / perSecond!;
    assert.ok(age >= 0.4, `the command's process was made ${age} s before it ran`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runJob() with a prepared start discarded runs nothing and leaves no process", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const job = shellJob("discarded", `touch ${dir}/ran`);
    const prepared = job.prepare!()!;
    await pause(200);
    // timeout(1) and the shell waiting under it.
    assert.ok((await processesWith(dir)).length > 0, "a process waits for the go");
    prepared.discard();
    for (let i = 0; i < 50 && (await processesWith(dir)).length > 0; i++) await pause(20);
    assert.deepEqual(await processesWith(dir), [], "the waiting process ended");
    assert.ok(!existsSync(`${dir}/ran`), "the command never ran");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runJob() retries a failing job with backoff until it succeeds", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script =
      `n=$(cat ${dir}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${dir}/n; echo try $n; [ $n -ge 3 ]`;
    const record = await runJob(shellJob("flaky", script), { log, retries: 4, retryBackoffMs: 10 });
    assert.deepEqual(record.result, "success");
    assert.deepEqual(record.attempts, 3);
    assert.match(record.stdout, /try 1[\s\S]*attempt 2 of 5[\s\S]*try 3/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runJob() gives up after the last retry and keeps the last exit status", async () => {
  const record = await runJob(shellJob("broken", "exit 7"), { log, retries: 2, retryBackoffMs: 1 });
  assert.deepEqual(record.result, "failure");
  assert.deepEqual(record.attempts, 3);
  assert.deepEqual(record.exitStatus, 7);
});

Deno.test("runJob() cancel sends SIGTERM and records the run as cancelled", async () => {
  const controller = new AbortController();
  const running = runJob(shellJob("sleepy", "sleep 30"), { log, signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 200));
  controller.abort();
  const record = await running;
  assert.deepEqual(record.result, "cancelled");
  assert.deepEqual(record.exitStatus, 143);
});

Deno.test("runJob() output capture is bounded for a chatty job", async () => {
  const record = await runJob(shellJob("chatty", "yes 0123456789 | head -c 2000000"), {
    log,
    outputLimit: 1000,
  });
  assert.deepEqual(record.result, "success");
  assert.ok(record.stdout.length < 2200, `kept ${record.stdout.length} characters`);
  assert.match(record.stdout, /characters omitted/);
});

Deno.test("Dispatcher skips a run while the previous one still runs (overlap: skip)", async () => {
  const store = new RunStore();
  const dispatcher = new Dispatcher(store, { log });
  const job = spec(shellJob("long", "sleep 0.3"));
  assert.deepEqual(dispatcher.trigger(job, { trigger: "schedule" }), "started");
  assert.deepEqual(dispatcher.trigger(job, { trigger: "schedule" }), "skipped");
  await dispatcher.idle();
  const state = store.get("long")!;
  assert.deepEqual(state.skipped, 1);
  assert.deepEqual(state.history.length, 1);
});

Deno.test("Dispatcher runs overlapping runs side by side (overlap: allow)", async () => {
  const store = new RunStore();
  const dispatcher = new Dispatcher(store, { log });
  const job = spec(shellJob("par", "sleep 0.2"), { overlap: "allow" });
  dispatcher.trigger(job, { trigger: "schedule" });
  dispatcher.trigger(job, { trigger: "schedule" });
  assert.deepEqual(store.get("par")!.running.length, 2);
  await dispatcher.idle();
  assert.deepEqual(store.get("par")!.history.length, 2);
});

Deno.test("Dispatcher stops the old run for the new one (overlap: replace)", async () => {
  const store = new RunStore();
  const dispatcher = new Dispatcher(store, { log });
  const job = spec(shellJob("rep", "sleep 5"), { overlap: "replace", killGraceMs: 500 });
  dispatcher.trigger(job, { trigger: "schedule" });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(dispatcher.trigger(job, { trigger: "schedule" }), "replaced");
  await new Promise((resolve) => setTimeout(resolve, 300));
  const state = store.get("rep")!;
  assert.deepEqual(state.history[0]?.result, "cancelled");
  assert.deepEqual(state.running.length, 1, "the new run started");
  await dispatcher.shutdown(100);
});

Deno.test("Dispatcher never runs two jobs of one group together", async () => {
  const store = new RunStore();
  const dispatcher = new Dispatcher(store, { log });
  const a = spec(shellJob("a", "sleep 0.2"), { group: "cluster" });
  const b = spec(shellJob("b", "sleep 0.2"), { group: "cluster" });
  assert.deepEqual(dispatcher.trigger(a, { trigger: "schedule" }), "started");
  assert.deepEqual(dispatcher.trigger(b, { trigger: "schedule" }), "queued");
  assert.deepEqual(dispatcher.trigger(b, { trigger: "schedule" }), "skipped");
  await dispatcher.idle();
  const ra = store.get("a")!.history[0]!;
  const rb = store.get("b")!.history[0]!;
  assert.ok(rb.startedAt.getTime() >= ra.endedAt!.getTime(), "b started after a ended");
});

Deno.test("Dispatcher.shutdown() ends running jobs and refuses new ones", async () => {
  const store = new RunStore();
  const dispatcher = new Dispatcher(store, { log });
  const dir = await Deno.makeTempDir();
  try {
    const script = `trap '' TERM; touch ${dir}/ready; sleep 30`;
    const job = spec(shellJob("stubborn", script), { killGraceMs: 60_000 });
    dispatcher.trigger(job, { trigger: "schedule" });
    // On a busy machine the shell may take a while to get to its trap.
    for (let i = 0; i < 200 && !existsSync(`${dir}/ready`); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const started = Date.now();
    await dispatcher.shutdown(200);
    assert.ok(Date.now() - started < 3000);
    assert.deepEqual(store.get("stubborn")!.history[0]?.exitStatus, 137);
    assert.deepEqual(dispatcher.trigger(job, { trigger: "schedule" }), "skipped");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A job that counts what the dispatcher does with its prepared starts. */
function countingJob(name: string) {
  const counts = { prepared: 0, discarded: 0, handed: [] as (PreparedStart | undefined)[] };
  const job: Job = {
    name,
    kind: "test",
    run: async (ctx: JobContext) => {
      counts.handed.push(ctx.prepared);
      await pause(50);
      return { exitStatus: 0 };
    },
    prepare: () => {
      counts.prepared++;
      return { discard: () => counts.discarded++ };
    },
  };
  return { job, counts };
}

Deno.test("Dispatcher hands a prepared start to the run it triggers, and discards it after", async () => {
  const dispatcher = new Dispatcher(new RunStore(), { log });
  const { job, counts } = countingJob("ready");
  dispatcher.prepare(spec(job));
  dispatcher.prepare(spec(job)); // A second call keeps the first.
  assert.deepEqual(dispatcher.trigger(spec(job), { trigger: "schedule" }), "started");
  await dispatcher.idle();
  assert.deepEqual(counts.prepared, 1);
  assert.ok(counts.handed[0] !== undefined, "the run got the prepared start");
  // runJob discards it at the end whether it was used or not (a no-op when it was).
  assert.deepEqual(counts.discarded, 1);
  // The next trigger without a prepare starts cold.
  dispatcher.trigger(spec(job), { trigger: "manual" });
  await dispatcher.idle();
  assert.deepEqual(counts.handed[1], undefined);
});

Deno.test("Dispatcher prepares no start for a run that would not start", async () => {
  const dispatcher = new Dispatcher(new RunStore(), { log });
  const { job, counts } = countingJob("busy");
  const other = countingJob("neighbour");
  dispatcher.trigger(spec(job), { trigger: "manual" });
  dispatcher.prepare(spec(job)); // overlap: skip, and a run is going.
  dispatcher.prepare(spec(other.job, { group: "g" }));
  assert.deepEqual(counts.prepared, 0);
  await dispatcher.idle();
  const grouped = countingJob("grouped");
  dispatcher.trigger(spec(other.job, { group: "g" }), { trigger: "manual" });
  dispatcher.prepare(spec(grouped.job, { group: "g" })); // Its group is busy.
  assert.deepEqual(grouped.counts.prepared, 0);
  await dispatcher.idle();
  await dispatcher.shutdown(100);
  dispatcher.prepare(spec(grouped.job));
  assert.deepEqual(grouped.counts.prepared, 0, "none while shutting down");
});

Deno.test("Dispatcher discards a prepared start of a job replaced by a reload, by name, and on shutdown", async () => {
  const dispatcher = new Dispatcher(new RunStore(), { log });
  const before = countingJob("reloaded");
  const after = countingJob("reloaded");
  dispatcher.prepare(spec(before.job));
  dispatcher.trigger(spec(after.job), { trigger: "schedule" });
  await dispatcher.idle();
  assert.deepEqual(before.counts.discarded, 1, "the old job's start was discarded");
  assert.deepEqual(before.counts.handed, [], "the old job did not run");
  assert.deepEqual(after.counts.handed, [undefined], "the new job started cold");
  const paused = countingJob("paused");
  dispatcher.prepare(spec(paused.job));
  dispatcher.discardPrepared("paused");
  assert.deepEqual(paused.counts.discarded, 1, "discarded by name (a paused job, say)");
  dispatcher.trigger(spec(paused.job), { trigger: "schedule" });
  await dispatcher.idle();
  assert.deepEqual(paused.counts.handed, [undefined], "a later run starts cold");
  const pending = countingJob("pending");
  dispatcher.prepare(spec(pending.job));
  await dispatcher.shutdown(100);
  assert.deepEqual(pending.counts.discarded, 1);
  assert.deepEqual(pending.counts.handed, []);
});

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
