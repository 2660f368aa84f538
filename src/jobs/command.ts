import type { Job, JobContext, JobOutcome } from "../runner/mod.ts";

/** What a stdout sink stored: artifacts, and backups retention deleted. */
export type SinkResult = Pick<JobOutcome, "artifacts" | "deletions">;

/** Options of {@linkcode commandJob}. */
export interface CommandJobOptions {
  /** Program and arguments, run without a shell. */
  argv?: readonly string[];
  /** A shell script for `/bin/sh -c`, when the user asked for a shell. */
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

/** A job that runs a command in its own process group. */
export function commandJob(name: string, options: CommandJobOptions): Job {
  const argv = options.shell !== undefined ? ["/bin/sh", "-c", options.shell] : options.argv;
  if (!argv || argv.length === 0 || !argv[0]) {
    throw new TypeError(`Job "${name}" has no command: set "command" or "shell"`);
  }
  const [program, ...args] = argv as [string, ...string[]];
  return {
    name,
    kind: "command",
    run: (ctx) => runCommand(program, args, options, ctx),
  };
}

async function runCommand(
  program: string,
  args: string[],
  options: CommandJobOptions,
  ctx: JobContext,
): Promise<JobOutcome> {
  ctx.signal.throwIfAborted();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      ...(options.env ? { env: options.env } : {}),
      ...(options.workdir ? { cwd: options.workdir } : {}),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // A new session makes the child a process-group leader, so a timeout can stop the
      // whole tree (`sh -c "a | b"`) and not only the shell.
      detached: true,
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      const where = options.workdir ? ` or working directory "${options.workdir}"` : "";
      const message = `Cannot run "${program}": command${where} not found`;
      ctx.stderr(message + "\n");
      return { exitStatus: 127, error: message };
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      const message = `Cannot run "${program}": permission denied`;
      ctx.stderr(message + "\n");
      return { exitStatus: 126, error: message };
    }
    throw error;
  }
  const pid = child.pid;
  ctx.setPid(pid);

  function signalGroup(signal: Deno.Signal): void {
    try {
      Deno.kill(-pid, signal);
    } catch {
      // The group is already gone.
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

  let sinking: Promise<SinkResult> | undefined;
  let stdoutDone: Promise<void>;
  let exited = false;
  /** Set when storing failed while the command still ran: the cause, not the SIGPIPE after. */
  let sinkFailedFirst = false;
  if (options.stdoutSink) {
    sinking = options.stdoutSink(untilSuccess(child.stdout, child.status), ctx);
    // A sink that fails stops reading: stop the command too, or it blocks on a full pipe.
    sinking.catch(() => {
      if (!exited) sinkFailedFirst = true;
      signalGroup("SIGTERM");
    });
    stdoutDone = sinking.then(() => {}, () => {});
  } else {
    stdoutDone = pump(child.stdout, ctx.stdout);
  }
  const pipes = Promise.all([stdoutDone, pump(child.stderr, ctx.stderr)]);
  try {
    const status = await child.status;
    exited = true;
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

/** `stream`, ending only once `status` says the command succeeded, and erroring otherwise. */
function untilSuccess(
  stream: ReadableStream<Uint8Array>,
  status: Promise<Deno.CommandStatus>,
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (!done) return controller.enqueue(value);
      const { success, code, signal } = await status;
      if (success) return controller.close();
      controller.error(
        new Error(
          `the command ${signal ? `was killed by ${signal}` : `exited with status ${code}`}`,
        ),
      );
    },
    cancel: (reason) => reader.cancel(reason),
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
