import { type Config, ConfigError } from "../config/mod.ts";
import { createRedactor, type Logger } from "../log/mod.ts";
import {
  configPath,
  EXIT,
  loadConfigFrom,
  logFormat,
  makeLogger,
  parseFlags,
  print,
  VERSION,
} from "./_common.ts";
import { Daemon } from "./_daemon.ts";
import { missingPermissions, narrowPermissions } from "./_permissions.ts";

/** Help text of `snapcron run`. */
export const RUN_HELP = `Usage: snapcron run [--config FILE] [--log-format text|json]

Runs the daemon: schedules every job of the config and serves status on port 18080.

  --config FILE       config file (default: $SNAPCRON_CONFIG, then ./snapcron.yaml)
  --log-format F      "text" (default) or "json" lines

Signals: SIGTERM/SIGINT stop scheduling, send SIGTERM to running jobs, wait up to
shutdown_grace, kill what is left and exit. SIGHUP re-reads the config; an invalid
new config is refused and the old one keeps running.`;

/** `snapcron run`: the daemon, until SIGTERM or SIGINT. */
export async function runCommand(args: string[]): Promise<number> {
  const { values } = parseFlags("run", args, {
    config: { type: "string", short: "c" },
    "log-format": { type: "string" },
    help: { type: "boolean", short: "h" },
  }, false);
  if (values.help) {
    print(RUN_HELP);
    return EXIT.ok;
  }
  const format = logFormat(values["log-format"], "text");
  const load = () => loadConfigFrom(values.config);
  const config = await load();
  const log = makeLogger(config, values["log-format"] ? format : undefined);
  log.info(`snapcron ${VERSION} starting`, {
    config: configPath(values.config),
    jobs: config.jobs.length,
  });
  return await serve(config, log, load);
}

/** Runs a daemon for `config` until a stop signal; `reload` re-reads the config on SIGHUP. */
export async function serve(
  config: Config,
  log: Logger,
  reload?: () => Promise<Config>,
): Promise<number> {
  narrowPermissions(config, log);
  const daemon = new Daemon(config, {
    log,
    version: VERSION,
    redact: createRedactor(config.secrets),
  });
  const { promise: stopped, resolve: stop } = Promise.withResolvers<Deno.Signal>();
  // The listeners go in before the start: a signal during it (its status line is out, so a
  // supervisor may already send one) must not kill the process by its default action. A reload
  // waits until the start is done, and is dropped if it failed.
  const { promise: started, resolve: startDone } = Promise.withResolvers<boolean>();
  const onStop = (signal: Deno.Signal) => () => stop(signal);
  const listeners: [Deno.Signal, () => void][] = [
    ["SIGTERM", onStop("SIGTERM")],
    ["SIGINT", onStop("SIGINT")],
  ];
  if (reload) {
    listeners.push(["SIGHUP", () => {
      log.info("SIGHUP: re-reading the config");
      started.then(async (ok) => {
        if (!ok) return;
        const next = await reload();
        const missing = missingPermissions(next);
        if (missing) throw new Error(missing);
        return daemon.reload(next);
      }).catch((error) => {
        const message = error instanceof ConfigError ? error.message : String(error);
        log.error(`New config refused, keeping the old one: ${message}`);
      });
    }]);
  }
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  try {
    let ok = false;
    try {
      await daemon.start();
      ok = true;
    } finally {
      startDone(ok);
    }
    const signal = await stopped;
    log.info(`${signal}: stopping`);
    await daemon.stop();
    log.info("Stopped");
    return EXIT.ok;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}
