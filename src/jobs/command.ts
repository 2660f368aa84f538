import type { Job, JobContext, JobOutcome, PreparedStart } from "../runner/mod.ts";

/** What a stdout sink stored: artifacts, and backups retention deleted. */
export type SinkResult = Pick<JobOutcome, "artifacts" | "deletions">;

/** Options of {@linkcode commandJob}. */
export interface CommandJobOptions {
  /** Program and arguments, run without a shell. */
  argv?: readonly string[];
  /** A shell script, run by `/bin/sh` ({@linkcode RUN_SCRIPT}), when the user asked for one. */
  shell?: string;
  env?: Record<string, string>;
  workdir?: string;
  /**
   * Takes the command's standard output instead of the log (a `pg_dump` into storage). The
   * stream ends only after the command exited 0; on any other exit it errors, so the sink
   * aborts its upload.
   */
  stdoutSink?: (stdout: ReadableStream<Uint8Array>, ctx: JobContext) => Promise<SinkResult>;
}

/** How long to wait for output pipes after the process exited (background children). */
const PIPE_GRACE_MS = 2000;

/**
 * coreutils' timeout(1) with no time limit (`timeout -- 0 COMMAND...`): it makes a process group
 * of its own (pgid = its pid), runs the command in it, passes signals on to the group and exits as
 * the command did. Two cheaper-looking ways to a group both cost more (docs/benchmarks.md,
 * schedule): Deno's `detached` calls setsid() between fork and exec, so Deno forks its whole
 * address space (2–5 ms of blocked event loop per start, against ~0.5 ms for the
 * posix_spawn it can use otherwise); and any new session, setsid(1)'s too, gets a scheduler
 * autogroup of its own, in which a new process on a busy machine waited 150–800 ms for a CPU
 * (p90–p99) against 15–30 ms in the caller's session. `detached` stays the fallback where
 * timeout(1) is missing (macOS, distroless images).
 */
const GROUP_LEADER = "/usr/bin/timeout";
/** The shell of `shell:` jobs, and of the waiter of a prepared start. */
const SHELL = "/bin/sh";
let found: { leader: boolean; shell: boolean } | undefined;

/** Whether {@linkcode GROUP_LEADER} and {@linkcode SHELL} can be used; looked up once. */
function tools(): { leader: boolean; shell: boolean } {
  if (!found) {
    const isFile = (path: string) => {
      try {
        return Deno.statSync(path).isFile;
      } catch {
        return false;
      }
    };
    found = { leader: Deno.build.os === "linux" && isFile(GROUP_LEADER), shell: isFile(SHELL) };
  }
  return found;
}

/**
 * A prepared start (see {@linkcode PreparedStart}) is a shell made just like the command's own
 * process would be (same group, environment and directory) that reads one line from its standard
 * input and then, with `/dev/null` as its input, execs the command, or runs a `shell:` job's
 * script itself ({@linkcode RUN_SCRIPT}). The go is a newline; an end of input without one
 * (discarding it) ends the shell before it runs anything. A scheduled start so skips timeout(1)'s
 * and Deno's process creation (~1.5 ms, more on a busy machine): the command's own start is all
 * that is left after the moment.
 */
const WAITER = "snapcron-start";
const WAIT = "read -r _ || exit 125; exec </dev/null; ";
/** `$@`: the command; a failed exec is told by the shell as `snapcron-start: ...`. */
const WAIT_THEN_EXEC = WAIT + 'exec "$@"';
/**
 * How a `shell:` script runs, prepared or not: `$1` is the script, run by `eval` with no
 * positional parameters and no variable of ours left set, in a shell named `/bin/sh`. The shell
 * says `eval:` in its own error messages (`/bin/sh: 1: eval: pg_dump: not found`).
 */
const RUN_SCRIPT =
  '__snapcron_script=$1; shift; eval "unset __snapcron_script; $__snapcron_script"';
const GO = new Uint8Array([10]);

/** What runs the job, as `[program, ...args]`: at once, or as a prepared start. */
function commandLine(options: CommandJobOptions, waiting: boolean): string[] {
  if (options.shell !== undefined) {
    return [SHELL, "-c", (waiting ? WAIT : "") + RUN_SCRIPT, SHELL, options.shell];
  }
  const argv = options.argv ?? [];
  return waiting ? [SHELL, "-c", WAIT_THEN_EXEC, WAITER, ...argv] : [...argv];
}

/** Starts the job's command in a process group of its own; `waiting`: a prepared start. */
function spawnInGroup(options: CommandJobOptions, waiting: boolean): Deno.ChildProcess {
  const { leader } = tools();
  const argv = commandLine(options, waiting);
  return new Deno.Command(leader ? GROUP_LEADER : argv[0]!, {
    args: leader ? ["--", "0", ...argv] : argv.slice(1),
    ...(options.env ? { env: options.env } : {}),
    ...(options.workdir ? { cwd: options.workdir } : {}),
    stdin: waiting ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    detached: !leader,
  }).spawn();
}

/** A command's process waiting for the go (see {@linkcode WAITER}). */
class WaitingStart implements PreparedStart {
  #child: Deno.ChildProcess | undefined;

  constructor(child: Deno.ChildProcess) {
    this.#child = child;
  }

  /** Lets the command run and hands over its process; undefined once used or discarded. */
  go(): Deno.ChildProcess | undefined {
    const child = this.#child;
    this.#child = undefined;
    if (child) endInput(child, GO);
    return child;
  }

  discard(): void {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    endInput(child);
    child.stdout.cancel().catch(() => {});
    child.stderr.cancel().catch(() => {});
    child.status.catch(() => {});
  }
}

/** Writes `bytes` (if any) to the child's input and closes it; a child gone already is fine. */
function endInput(child: Deno.ChildProcess, bytes?: Uint8Array): void {
  const writer = child.stdin.getWriter();
  (bytes ? writer.write(bytes) : Promise.resolve()).then(() => writer.close()).catch(() => {});
}

/** A job that runs a command in its own process group. */
export function commandJob(name: string, options: CommandJobOptions): Job {
  const program = options.shell !== undefined ? SHELL : options.argv?.[0];
  if (!program) throw new TypeError(`Job "${name}" has no command: set "command" or "shell"`);
  return {
    name,
    kind: "command",
    run: (ctx) => runCommand(program, options, ctx),
    prepare: () => {
      if (!tools().shell) return undefined;
      try {
        return new WaitingStart(spawnInGroup(options, true));
      } catch {
        // A missing working directory, say: the run itself says so.
        return undefined;
      }
    },
  };
}

/** Runs the job's command; `program` names it in messages. */
async function runCommand(
  program: string,
  options: CommandJobOptions,
  ctx: JobContext,
): Promise<JobOutcome> {
  ctx.signal.throwIfAborted();
  // The command runs in a process group of its own, so that a timeout can stop the whole tree
  // (`sh -c "a | b"`) and not only the shell; `pid` is the group's.
  let child = ctx.prepared instanceof WaitingStart ? ctx.prepared.go() : undefined;
  try {
    child ??= spawnInGroup(options, false);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      // Deno cannot tell a missing program from a missing working directory.
      return cannotRun(program, "missing", ctx, options.workdir);
    }
    if (error instanceof Deno.errors.PermissionDenied) return cannotRun(program, "denied", ctx);
    throw error;
  }
  const pid = child.pid;

  function signalGroup(signal: Deno.Signal): void {
    try {
      Deno.kill(-pid, signal);
    } catch {
      // No group: it is gone, or timeout(1) has not made it yet (its first millisecond), when
      // the process itself is all there is to stop.
      try {
        Deno.kill(pid, signal);
      } catch {
        // Gone.
      }
    }
  }
  const onStop = () => {
    ctx.log.info("Sending SIGTERM to the job's process group", { pid });
    signalGroup("SIGTERM");
  };
  const onKill = () => {
    ctx.log.warn("Grace period over, sending SIGKILL to the job's process group", { pid });
    signalGroup("SIGKILL");
  };
  ctx.signal.addEventListener("abort", onStop, { once: true });
  ctx.killSignal.addEventListener("abort", onKill, { once: true });
  // Announces the run: a listener may stop it at once, so the handlers above are in place.
  ctx.setPid(pid);

  let sinking: Promise<SinkResult> | undefined;
  let stdoutDone: Promise<void>;
  /** Set once the output stream was failed because the command failed. */
  let commandFailed = false;
  /**
   * Set when storing failed on its own (a full disk, say), not because the command failed: that
   * is the cause, not the SIGPIPE or SIGTERM the command dies of after.
   */
  let sinkFailedFirst = false;
  if (options.stdoutSink) {
    const output = untilSuccess(child.stdout, child.status, () => commandFailed = true);
    sinking = options.stdoutSink(output, ctx);
    // A sink that fails stops reading: stop the command too, or it blocks on a full pipe.
    sinking.catch(() => {
      if (!commandFailed) sinkFailedFirst = true;
      signalGroup("SIGTERM");
    });
    stdoutDone = sinking.then(() => {}, () => {});
  } else {
    stdoutDone = pump(child.stdout, ctx.stdout);
  }
  // The start of stderr, where timeout(1) says it could not start the command.
  let stderrHead = "";
  const pipes = Promise.all([
    stdoutDone,
    pump(child.stderr, (text) => {
      if (stderrHead.length < 1024) stderrHead += text;
      ctx.stderr(text);
    }),
  ]);
  try {
    const status = await child.status;
    // An upload may still be draining buffered output; it ends with the stream, or with the
    // job's timeout, which stops the whole process group.
    if (sinking) await stdoutDone;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      pipes.then(() => true),
      new Promise<false>((resolve) => graceTimer = setTimeout(() => resolve(false), PIPE_GRACE_MS)),
    ]);
    clearTimeout(graceTimer);
    if (!drained) {
      ctx.log.warn("Background processes of the job still hold its output; no longer reading it", {
        pid,
      });
      await Promise.allSettled([child.stdout.cancel(), child.stderr.cancel()]);
    }
    await pipes.catch(() => {});
    const code = status.signal ? 128 + signalNumber(status.signal) : status.code;
    if (sinking) {
      try {
        const stored = await sinking;
        if (code === 0) return { exitStatus: 0, ...stored };
      } catch (error) {
        if (code === 0 || sinkFailedFirst) {
          const message = `Storing the output failed: ${(error as Error).message}`;
          ctx.stderr(message + "\n");
          return { exitStatus: 1, error: message };
        }
      }
    }
    if (code === 0) return { exitStatus: 0 };
    // The working directory was there: timeout(1), or the waiting shell, started in it, and
    // says on stderr when the command could not be.
    if (
      (code === 126 || code === 127) &&
      (stderrHead.startsWith(`${GROUP_LEADER}: failed to run command `) ||
        stderrHead.startsWith(`${WAITER}: `))
    ) {
      return cannotRun(program, code === 127 ? "missing" : "denied", ctx);
    }
    const error = status.signal
      ? `Command was killed by ${status.signal}`
      : `Command exited with status ${code}`;
    return { exitStatus: code, error };
  } finally {
    ctx.signal.removeEventListener("abort", onStop);
    ctx.killSignal.removeEventListener("abort", onKill);
    ctx.setPid(undefined);
  }
}

/** The outcome of a command that could not be started, told in its stderr too. */
function cannotRun(
  program: string,
  why: "missing" | "denied",
  ctx: JobContext,
  workdir?: string,
): JobOutcome {
  const where = workdir ? ` or working directory "${workdir}"` : "";
  const message = why === "denied"
    ? `Cannot run "${program}": permission denied`
    : `Cannot run "${program}": command${where} not found`;
  ctx.stderr(message + "\n");
  return { exitStatus: why === "denied" ? 126 : 127, error: message };
}

/**
 * `stream`, ending only once `status` says the command succeeded, and erroring otherwise (after
 * calling `onFailure`). Once the reader cancelled it (a store that failed), the command's end is
 * no failure of its own: it dies of the closed pipe, and a read still waiting sees the end then.
 */
function untilSuccess(
  stream: ReadableStream<Uint8Array>,
  status: Promise<Deno.CommandStatus>,
  onFailure: () => void,
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (cancelled) return;
      if (!done) return controller.enqueue(value);
      const { success, code, signal } = await status;
      if (cancelled) return;
      if (success) return controller.close();
      onFailure();
      controller.error(
        new Error(
          `the command ${signal ? `was killed by ${signal}` : `exited with status ${code}`}`,
        ),
      );
    },
    cancel: (reason) => {
      cancelled = true;
      return reader.cancel(reason);
    },
  });
}

async function pump(stream: ReadableStream<Uint8Array>, sink: (text: string) => void) {
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) sink(decoder.decode(chunk, { stream: true }));
  } catch {
    // Cancelled after the process exited.
  }
  const rest = decoder.decode();
  if (rest) sink(rest);
}

const SIGNALS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

function signalNumber(signal: Deno.Signal): number {
  return SIGNALS[signal] ?? 0;
}
