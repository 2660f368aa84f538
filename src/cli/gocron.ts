import { parseConfig, parseListen } from "../config/mod.ts";
import { parseSchedule } from "../schedule/mod.ts";
import { EXIT, logFormat, makeLogger, print, UsageError, VERSION } from "./_common.ts";
import { defaultZone } from "./next.ts";
import { serve } from "./run.ts";

/** Help text of the go-cron compatible invocation. */
export const GOCRON_HELP =
  `Usage: snapcron -s EXPR [-p PORT] [--log-format text|json] -- CMD [ARGS...]

The go-cron drop-in: runs CMD on schedule EXPR and serves go-cron's status JSON
on PORT (default 18080; 0 disables it).

EXPR is read as go-cron read it (robfig/cron v1): 6 fields are
"second minute hour day-of-month month day-of-week", and 5 fields are
"second minute hour day-of-month month" with no day of week: "*/5 * * * *"
runs every 5 seconds. Default EXPR: "* * * * *" (every second), as in go-cron.
Config files use the standard reading instead (5 fields = minute first).`;

/** True when argv is the go-cron style invocation (`-s`, `-p` flags first). */
export function isGoCronInvocation(args: readonly string[]): boolean {
  return /^-[sp]/.test(args[0] ?? "");
}

/** `snapcron -s EXPR -p PORT -- CMD ARGS...`: go-cron's command line. */
export async function goCronCommand(args: string[]): Promise<number> {
  let expression = "* * * * *";
  let port = "18080";
  let format: string | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    const [flag, inline] = arg.startsWith("--")
      ? [arg, undefined]
      : [arg.slice(0, 2), arg.slice(2) || undefined];
    const value = () => {
      const next = inline ?? args[++i];
      if (next === undefined || next === "--") {
        throw new UsageError(`Flag "${flag}" needs a value`, "gocron");
      }
      return next.replace(/^=/, "");
    };
    if (flag === "-s") expression = value();
    else if (flag === "-p") port = value();
    else if (arg === "--log-format") format = args[++i];
    else if (arg === "-h" || arg === "--help") {
      print(GOCRON_HELP);
      return EXIT.ok;
    } else if (arg.startsWith("-")) {
      throw new UsageError(
        `Unknown go-cron flag "${arg}": use -s EXPR, -p PORT, then -- CMD ARGS`,
        "gocron",
      );
    } else break;
  }
  const command = args.slice(i);
  if (command.length === 0) {
    throw new UsageError('Missing the command: snapcron -s "EXPR" -- CMD [ARGS...]', "gocron");
  }
  if (!/^\d+$/.test(port) || Number(port) > 65535) {
    throw new UsageError(
      `Invalid -p "${port}": use a port number from 0 to 65535 (0 disables the status server)`,
      "gocron",
    );
  }
  parseListen(`:${port}`);
  const schedule = parseSchedule(expression, { dialect: "gocron", timezone: defaultZone() });
  // The job takes its defaults from the config schema; the schedule (in the legacy reading that
  // config files never use) and the command (verbatim: no ${VAR} expansion) are set after.
  const config = parseConfig(
    `status: { listen: ":${port}" }\njobs: { job: { schedule: "@yearly", command: [cmd] } }\n`,
    "<command line>",
    { env: () => undefined },
  );
  config.jobs[0] = { ...config.jobs[0]!, schedule, command };
  const log = makeLogger(config, logFormat(format, "text"));
  log.info(`snapcron ${VERSION} in go-cron mode`, { command });
  log.info(`Schedule "${expression}" read as ${schedule.description}`);
  return await serve(config, log);
}
