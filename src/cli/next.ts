import { isTimeZone, parseSchedule } from "../schedule/mod.ts";
import { EXIT, parseFlags, print, printError, UsageError } from "./_common.ts";

/** Help text of `snapcron next`. */
export const NEXT_HELP =
  `Usage: snapcron next EXPR [--count N] [--from ISO] [--tz ZONE] [--dialect standard|gocron]

Prints the next run times of a schedule, one ISO 8601 UTC line each.

  --count N     how many times to print (default 5, at most 10000)
  --from ISO    start after this time (default: now), e.g. 2026-03-29T00:00:00Z
  --tz ZONE     time zone the expression is read in (default: $TZ or UTC)
  --dialect D   "standard" (config files: 5 fields = minute first) or
                "gocron" (go-cron's -s: 5 fields = second first, no day of week)

Examples:
  snapcron next "0/10 * * * * *" --count 3
  snapcron next "0 30 2 * * *" --tz Europe/Berlin --from 2026-03-28T00:00:00Z
  snapcron next --dialect gocron "*/5 * * * *"`;

/** `snapcron next`: prints upcoming run times of an expression. */
export function nextCommand(args: string[]): number {
  const { values, positionals } = parseFlags("next", args, {
    count: { type: "string", short: "n" },
    from: { type: "string" },
    tz: { type: "string" },
    dialect: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    print(NEXT_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'Missing EXPR: quote the schedule, e.g. snapcron next "0/10 * * * * *"'
        : `Expected one EXPR, got ${positionals.length}: quote the schedule so the shell keeps it whole`,
      "next",
    );
  }
  const count = values.count === undefined ? 5 : Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 10_000) {
    throw new UsageError(
      `Invalid --count "${values.count}": use a whole number from 1 to 10000`,
      "next",
    );
  }
  let from = new Date();
  if (values.from !== undefined) {
    from = new Date(values.from);
    if (Number.isNaN(from.getTime())) {
      throw new UsageError(
        `Invalid --from "${values.from}": use ISO 8601, e.g. 2026-01-31T12:00:00Z`,
        "next",
      );
    }
  }
  const dialect = values.dialect ?? "standard";
  if (dialect !== "standard" && dialect !== "gocron") {
    throw new UsageError(`Invalid --dialect "${dialect}": use "standard" or "gocron"`, "next");
  }
  const timezone = values.tz ?? defaultZone();
  if (!isTimeZone(timezone)) {
    throw new UsageError(
      `Unknown time zone "${timezone}": use an IANA name such as "Europe/Berlin"`,
      "next",
    );
  }
  const schedule = parseSchedule(positionals[0]!, { dialect, timezone });
  printError(`# ${schedule.description}; time zone ${schedule.timezone}`);
  let at = from;
  for (let i = 0; i < count; i++) {
    const next = schedule.next(at);
    if (!next) {
      printError("# no further run times within 5 years");
      break;
    }
    if (next.note) printError(`# ${next.note}`);
    print(next.at.toISOString());
    at = next.at;
  }
  return EXIT.ok;
}

/** The process default zone: $TZ when it names a zone, else UTC. */
export function defaultZone(): string {
  const tz = Deno.env.get("TZ");
  return tz && isTimeZone(tz) ? tz : "UTC";
}
