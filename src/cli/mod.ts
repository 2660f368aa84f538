import { closest, ConfigError } from "../config/mod.ts";
import { ScheduleSyntaxError } from "../schedule/mod.ts";
import { EXIT, printError, UsageError, VERSION } from "./_common.ts";
import { goCronCommand, isGoCronInvocation } from "./gocron.ts";
import { healthcheckCommand } from "./healthcheck.ts";
import { listCommand, restoreCommand, retentionCommand, verifyCommand } from "./backups.ts";
import { nextCommand } from "./next.ts";
import { onceCommand } from "./once.ts";
import { runCommand } from "./run.ts";
import { validateCommand } from "./validate.ts";
import { versionCommand } from "./version.ts";

/** Top-level help. */
export const HELP = `snapcron ${VERSION}: scheduled backups next to a cluster, and their status

Usage:
  snapcron run      [--config FILE]        run the daemon: schedule all jobs, serve status
  snapcron once JOB [--config FILE]        run one job now, exit with its status
  snapcron validate [--config FILE]        check the config, print the plan
  snapcron next EXPR [--count N] [--from ISO] [--tz ZONE] [--dialect standard|gocron]
  snapcron list JOB [--json]               list the job's backups
  snapcron retention JOB [--dry-run]       prune old backups now, or show the plan
  snapcron restore JOB BACKUP --to FILE    download, verify and unpack a backup
  snapcron verify JOB                      check the job's repository, endpoints and storage
  snapcron healthcheck [--ready]           probe a running snapcron (for container health checks)
  snapcron version
  snapcron -s EXPR [-p PORT] -- CMD [ARGS...]   go-cron compatible invocation

--config defaults to $SNAPCRON_CONFIG, then ./snapcron.yaml.
Exit codes: 0 success, 1 job failed, 2 usage or config error.
"snapcron COMMAND --help" describes each command.`;

const COMMANDS: Record<string, (args: string[]) => number | Promise<number>> = {
  run: runCommand,
  once: onceCommand,
  validate: validateCommand,
  next: nextCommand,
  list: listCommand,
  retention: retentionCommand,
  restore: restoreCommand,
  verify: verifyCommand,
  healthcheck: healthcheckCommand,
  version: versionCommand,
};

/** Runs the command line and returns the exit code; only main.ts exits. */
export async function main(args: string[]): Promise<number> {
  try {
    if (isGoCronInvocation(args)) return await goCronCommand(args);
    const [name, ...rest] = args;
    if (name === undefined || name === "help" || name === "--help" || name === "-h") {
      printError(HELP);
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    if (name === "--version") return versionCommand();
    // The go-cron mode by name too, so that its usage hint "snapcron gocron --help" works.
    if (name === "gocron") return await goCronCommand(rest);
    const command = COMMANDS[name];
    if (!command) {
      const names = Object.keys(COMMANDS);
      const hint = closest(name, names);
      throw new UsageError(
        name.startsWith("-")
          ? `Unknown flag "${name}": put a command first, e.g. snapcron validate --config FILE`
          : `Unknown command "${name}"` +
            (hint
              ? ` (did you mean "${hint}"?)`
              : `: use ${names.slice(0, -1).join(", ")} or ${names.at(-1)}`),
      );
    }
    return await command(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      // A shared check (--log-format) does not know its command; the help that explains it does.
      const command = error.command ||
        (isGoCronInvocation(args) ? "gocron" : args[0] && args[0] in COMMANDS ? args[0] : "");
      printError(
        `${error.message}\nRun "snapcron ${command ? command + " " : ""}--help" for usage.`,
      );
      return EXIT.usage;
    }
    if (
      error instanceof ConfigError || error instanceof ScheduleSyntaxError ||
      error instanceof RangeError
    ) {
      printError(error.message);
      return EXIT.usage;
    }
    printError(`snapcron: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.failed;
  }
}
