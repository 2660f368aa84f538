/**
 * The cron dialect: robfig/cron v3 (the modern reading of a go-cron schedule, used in config
 * files) and robfig/cron v1 (how go-cron itself read its `-s` flag).
 *
 * Standard dialect (robfig/cron v3 with `SecondOptional | Descriptor`):
 * - `sec min hour dom month dow`, or the classic `min hour dom month dow` with second 0;
 * - `*`, `?` (same as `*`), `a`, `a-b`, lists `a,b`, steps `*\/n`, `a-b/n` and `a/n` (from a to
 *   the field's maximum: `0/10` in seconds is 0,10,…,50); JAN-DEC and SUN-SAT in any case; day
 *   of week 0-6 with 0 = Sunday (7 is an error, as in robfig);
 * - if day of month and day of week are both restricted, a day matching either runs; if either
 *   starts with `*` or `?`, a day must match both. In v3 `*\/2` counts as restricted; in the
 *   gocron dialect (v1) any `*` or `?` item counts as a star, step or not;
 * - `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly` and
 *   `@every <Go duration>` (next = the time asked about, truncated to the second, plus the
 *   duration; sub-second durations round up to 1s as in robfig; the zone plays no part);
 * - a `CRON_TZ=Zone ` or `TZ=Zone ` prefix sets the zone, overriding the `timezone` option.
 *
 * Gocron dialect (robfig/cron v1, go-cron's `-s`): 6 fields seconds first, or 5 fields read as
 * `sec min hour dom month` with day of week `*`. So `*\/5 * * * *` runs every 5 seconds there.
 *
 * Daylight saving time. The product rule is that across DST changes a slot never fires twice
 * and is never skipped without a log line (`NextRun.note`). Schedules fall in two kinds:
 * - Wall-clock schedules, whose hour field does not allow every hour (`0 30 2 * * *`,
 *   `@daily`): each slot runs once per local day. A slot whose local time does not exist
 *   (spring forward) runs once at the first instant after the gap, with a note; several such
 *   slots in one gap collapse into that one run. In the repeated hour (fall back) a slot runs
 *   only on its first pass, with a note saying so.
 * - Interval-like schedules, whose hour field allows every hour (`*\/10 * * * * *`, `@hourly`,
 *   `0 30 * * * *`): they follow real time. In the repeated hour they fire on both passes
 *   (every 10 seconds keeps ticking); the hour that spring forward removes never happens, so its
 *   slots do not run, and the first run after the gap carries a note naming them.
 * This differs on purpose from robfig/cron, which skips gap slots silently and runs
 * wall-clock slots twice in the repeated hour.
 *
 * @module
 */

import type { CronFields } from "./_calendar.ts";
import { CronSchedule } from "./_cron_schedule.ts";
import { ScheduleSyntaxError } from "./_errors.ts";
import { EverySchedule } from "./_every_schedule.ts";
import {
  DAY_OF_MONTH,
  DAY_OF_WEEK,
  type FieldBounds,
  HOUR,
  MINUTE,
  MONTH,
  parseField,
  SECOND,
  type StarRule,
} from "./_fields.ts";
import { parseGoDuration } from "./_go_duration.ts";
import { loadTimeZone, type TimeZone } from "./_zone.ts";

export { ScheduleSyntaxError, type ScheduleSyntaxErrorOptions } from "./_errors.ts";
export { parseGoDuration } from "./_go_duration.ts";
export { isTimeZone } from "./_zone.ts";
// The run loop lives beside the dialect (written separately); src/cli imports it from here.
export { type DueRun, type ScheduledJob, Scheduler, type SchedulerOptions } from "./_scheduler.ts";

/** How to read five fields: `"standard"` (robfig v3, minute first) or `"gocron"` (v1, second first). */
export type Dialect = "standard" | "gocron";

/** Options for {@linkcode parseSchedule}. */
export interface ParseScheduleOptions {
  /** How to read the fields; default `"standard"`. */
  dialect?: Dialect;
  /** IANA zone the fields are read in, default `"UTC"`; a `CRON_TZ=` prefix overrides it. */
  timezone?: string;
}

/** One run of a schedule. */
export interface NextRun {
  at: Date;
  /** Set when daylight saving time moved, merged or skipped slots; worth a log line. */
  note?: string;
}

/** A parsed schedule. */
export interface Schedule {
  /** The text as given, unchanged. */
  readonly text: string;
  /** The zone the schedule is read in: the `CRON_TZ=`/`TZ=` prefix, the option, or `"UTC"`. */
  readonly timezone: string;
  /** How the text was read, such as `"6 fields, seconds first"`. */
  readonly description: string;
  /** The first run strictly after `after`; `undefined` if there is none within five years. */
  next(after: Date): NextRun | undefined;
  /** The text as given. */
  toString(): string;
}

const FIELD_ORDER: readonly FieldBounds[] = [
  SECOND,
  MINUTE,
  HOUR,
  DAY_OF_MONTH,
  MONTH,
  DAY_OF_WEEK,
];
const FIELD_NAMES = "second minute hour day-of-month month day-of-week";

// robfig/cron's descriptors, written as the six fields they stand for.
const DESCRIPTORS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 0 1 1 *",
  "@annually": "0 0 0 1 1 *",
  "@monthly": "0 0 0 1 * *",
  "@weekly": "0 0 0 * * 0",
  "@daily": "0 0 0 * * *",
  "@midnight": "0 0 0 * * *",
  "@hourly": "0 0 * * * *",
};
const DESCRIPTOR_LIST =
  "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>";

const TZ_PREFIX = /^(CRON_TZ|TZ)=(\S*)(?:\s+([\s\S]*))?$/;

/**
 * Parses a cron expression or descriptor, throwing a {@linkcode ScheduleSyntaxError} that names
 * the field and the reason if it does not parse, and a `RangeError` if `options.timezone` or
 * `options.dialect` is not a known one.
 */
export function parseSchedule(text: string, options: ParseScheduleOptions = {}): Schedule {
  const dialect = options.dialect ?? "standard";
  if (dialect !== "standard" && dialect !== "gocron") {
    throw new RangeError(
      `Unknown cron dialect ${JSON.stringify(dialect)}: use "standard" or "gocron"`,
    );
  }
  const fail: (reason: string) => never = (reason) => {
    throw new ScheduleSyntaxError(text, reason);
  };
  let rest = text.trim();
  if (rest === "") {
    fail("the schedule is empty (write 5 or 6 fields, or a descriptor such as @daily)");
  }

  // The option is checked even when a prefix overrides it, so a wrong one never goes unnoticed.
  let zone = loadTimeZone(options.timezone ?? "UTC");
  const prefix = TZ_PREFIX.exec(rest);
  if (prefix !== null) {
    const [, key = "", name = "", schedule = ""] = prefix;
    if (name === "") fail(`missing time zone after "${key}=" (for example "${key}=Europe/Berlin")`);
    if (schedule.trim() === "") fail(`expected a schedule after "${key}=${name}"`);
    try {
      zone = loadTimeZone(name);
    } catch {
      return fail(
        `unknown time zone ${JSON.stringify(name)} (use an IANA name such as "Europe/Berlin")`,
      );
    }
    rest = schedule.trim();
  }

  if (rest.startsWith("@")) return parseDescriptor(text, rest, zone);

  const words = rest.split(/\s+/);
  if (words.length !== 5 && words.length !== 6) {
    const optional = dialect === "gocron" ? "day-of-week" : "second";
    const quartz = words.length === 7 ? "; a seventh, year field is not supported" : "";
    fail(
      `expected 5 or 6 fields, found ${words.length} (${FIELD_NAMES}, the ${optional} optional${quartz})`,
    );
  }
  let six: string[];
  let description: string;
  if (dialect === "gocron") {
    six = words.length === 6 ? words : [...words, "*"];
    description = words.length === 6
      ? `gocron v1: 6 fields = ${FIELD_NAMES}`
      : "gocron v1: 5 fields = second minute hour day-of-month month (day-of-week = *)";
  } else {
    six = words.length === 6 ? words : ["0", ...words];
    description = words.length === 6
      ? `6 fields, seconds first: ${FIELD_NAMES}`
      : "5 fields: minute hour day-of-month month day-of-week (second = 0)";
  }
  const fields = parseFields(text, six, dialect === "gocron" ? "v1" : "v3");
  return new CronSchedule({ text, description, fields, zone });
}

function parseFields(expression: string, six: readonly string[], starRule: StarRule): CronFields {
  const [second, minute, hour, dayOfMonth, month, dayOfWeek] = FIELD_ORDER.map((bounds, i) =>
    parseField(six[i] ?? "*", bounds, { expression, starRule })
  );
  if (!second || !minute || !hour || !dayOfMonth || !month || !dayOfWeek) {
    throw new TypeError("Expected six cron fields");
  }
  return { second, minute, hour, dayOfMonth, month, dayOfWeek };
}

function parseDescriptor(text: string, descriptor: string, zone: TimeZone): Schedule {
  const fail: (reason: string) => never = (reason) => {
    throw new ScheduleSyntaxError(text, reason);
  };
  const every = /^@every(?:\s+([\s\S]*))?$/.exec(descriptor);
  if (every !== null) {
    const durationText = every[1]?.trim() ?? "";
    if (durationText === "") fail(`missing duration after @every (for example "@every 1h30m")`);
    let ms = 0;
    try {
      ms = parseGoDuration(durationText);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      fail(message.charAt(0).toLowerCase() + message.slice(1));
    }
    if (!(ms > 0)) fail(`@every needs a positive duration, found ${JSON.stringify(durationText)}`);
    // robfig: at least one second, and any fraction of a second is dropped.
    const delayMs = Math.max(1_000, Math.floor(ms / 1_000) * 1_000);
    const rounded = delayMs === ms
      ? ""
      : ` (${durationText} rounded to ${delayMs / 1_000}s, as robfig/cron does)`;
    return new EverySchedule({
      text,
      timezone: zone.name,
      delayMs,
      description: `@every ${durationText}: a constant delay of ${
        delayMs / 1_000
      }s after the previous run${rounded}; the time zone plays no part`,
    });
  }
  const six = Object.hasOwn(DESCRIPTORS, descriptor) ? DESCRIPTORS[descriptor] : undefined;
  if (six === undefined) {
    const lower = descriptor.toLowerCase();
    const hint = Object.hasOwn(DESCRIPTORS, lower) || lower.startsWith("@every")
      ? `did you mean "${lower}"? descriptors are lowercase`
      : `use ${DESCRIPTOR_LIST}`;
    return fail(`unknown descriptor ${JSON.stringify(descriptor)} (${hint})`);
  }
  const fields = parseFields(text, six.split(" "), "v3");
  return new CronSchedule({
    text,
    description: `${descriptor} = ${six} (${FIELD_NAMES})`,
    fields,
    zone,
  });
}
