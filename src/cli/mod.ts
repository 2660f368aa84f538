import { ConfigError } from "../config/mod.ts";
import { ScheduleSyntaxError } from "../schedule/mod.ts";
import { EXIT, printError, UsageError, VERSION } from "./_common.ts";
import { goCronCommand, isGoCronInvocation } from "./gocron.ts";
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
    const command = COMMANDS[name];
    if (!command) {
      throw new UsageError(
        `Unknown command "${name}": use run, once, validate, next, list, retention, restore, verify or version (snapcron --help)`,
      );
    }
    return await command(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      printError(
        `${error.message}\nRun "snapcron ${
          error.command ? error.command + " " : ""
        }--help" for usage.`,
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
