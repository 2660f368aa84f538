import assert from "node:assert/strict";
import {
  parseSchedule,
  type ParseScheduleOptions,
  type Schedule,
  ScheduleSyntaxError,
} from "./mod.ts";

// Expected times below were worked out by hand from a calendar (2026-01-01 is a Thursday) and
// agree with robfig/cron v3 (scripts/dev/robfig_compare.sh).

/** The next `count` runs after `from`, as ISO strings; "none" ends the list early. */
function runs(text: string, from: string, count: number, options?: ParseScheduleOptions): string[] {
  return runsOf(parseSchedule(text, options), from, count);
}

function runsOf(schedule: Schedule, from: string, count: number): string[] {
  const out: string[] = [];
  let at = new Date(from);
  for (let i = 0; i < count; i++) {
    const run = schedule.next(at);
    if (run === undefined) {
      out.push("none");
      break;
    }
    out.push(run.at.toISOString());
    at = run.at;
  }
  return out;
}

function syntaxError(text: string, options?: ParseScheduleOptions): ScheduleSyntaxError {
  try {
    parseSchedule(text, options);
  } catch (error) {
    assert.ok(error instanceof ScheduleSyntaxError, `expected ScheduleSyntaxError, got ${error}`);
    return error;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`);
}

Deno.test("parseSchedule() reads 0/10 as every 10 seconds", () => {
  assert.deepEqual(runs("0/10 * * * * *", "2026-01-01T00:00:00Z", 7), [
    "2026-01-01T00:00:10.000Z",
    "2026-01-01T00:00:20.000Z",
    "2026-01-01T00:00:30.000Z",
    "2026-01-01T00:00:40.000Z",
    "2026-01-01T00:00:50.000Z",
    "2026-01-01T00:01:00.000Z",
    "2026-01-01T00:01:10.000Z",
  ]);
});

Deno.test("parseSchedule() reads a/n as from a to the field's maximum", () => {
  assert.deepEqual(runs("15/20 * * * * *", "2026-01-01T00:00:00Z", 4), [
    "2026-01-01T00:00:15.000Z",
    "2026-01-01T00:00:35.000Z",
    "2026-01-01T00:00:55.000Z",
    "2026-01-01T00:01:15.000Z",
  ]);
  // Months 3/4 = March, July, November.
  assert.deepEqual(runs("0 0 0 1 3/4 *", "2026-01-01T00:00:00Z", 4), [
    "2026-03-01T00:00:00.000Z",
    "2026-07-01T00:00:00.000Z",
    "2026-11-01T00:00:00.000Z",
    "2027-03-01T00:00:00.000Z",
  ]);
});

Deno.test("parseSchedule() reads ranges, stepped ranges and lists", () => {
  assert.deepEqual(runs("5-40/7 * * * * *", "2026-01-01T00:00:00Z", 7), [
    "2026-01-01T00:00:05.000Z",
    "2026-01-01T00:00:12.000Z",
    "2026-01-01T00:00:19.000Z",
    "2026-01-01T00:00:26.000Z",
    "2026-01-01T00:00:33.000Z",
    "2026-01-01T00:00:40.000Z",
    "2026-01-01T00:01:05.000Z",
  ]);
  assert.deepEqual(runs("1-3 * * * * *", "2026-01-01T00:00:02Z", 3), [
    "2026-01-01T00:00:03.000Z",
    "2026-01-01T00:01:01.000Z",
    "2026-01-01T00:01:02.000Z",
  ]);
  assert.deepEqual(runs("0 0 0,12 * * *", "2026-01-01T00:00:00Z", 3), [
    "2026-01-01T12:00:00.000Z",
    "2026-01-02T00:00:00.000Z",
    "2026-01-02T12:00:00.000Z",
  ]);
  assert.deepEqual(runs("0 10,50 3-4 * * *", "2026-01-01T00:00:00Z", 5), [
    "2026-01-01T03:10:00.000Z",
    "2026-01-01T03:50:00.000Z",
    "2026-01-01T04:10:00.000Z",
    "2026-01-01T04:50:00.000Z",
    "2026-01-02T03:10:00.000Z",
  ]);
});

Deno.test("parseSchedule() reads five fields as minute first with second 0", () => {
  const schedule = parseSchedule("*/15 * * * *");
  assert.equal(
    schedule.description,
    "5 fields: minute hour day-of-month month day-of-week (second = 0)",
  );
  assert.deepEqual(runsOf(schedule, "2026-01-01T00:00:00Z", 4), [
    "2026-01-01T00:15:00.000Z",
    "2026-01-01T00:30:00.000Z",
    "2026-01-01T00:45:00.000Z",
    "2026-01-01T01:00:00.000Z",
  ]);
  assert.deepEqual(runs("0 0 12 * *", "2026-01-01T00:00:00Z", 2), [
    "2026-01-12T00:00:00.000Z",
    "2026-02-12T00:00:00.000Z",
  ]);
});

Deno.test("parseSchedule() reads six fields as seconds first", () => {
  const schedule = parseSchedule("30 15 10 * * *");
  assert.equal(
    schedule.description,
    "6 fields, seconds first: second minute hour day-of-month month day-of-week",
  );
  assert.deepEqual(runsOf(schedule, "2026-01-01T00:00:00Z", 2), [
    "2026-01-01T10:15:30.000Z",
    "2026-01-02T10:15:30.000Z",
  ]);
});

Deno.test("parseSchedule() reads month and day names in any case", () => {
  assert.deepEqual(runs("0 0 0 1 jan,JUL *", "2026-01-01T00:00:00Z", 3), [
    "2026-07-01T00:00:00.000Z",
    "2027-01-01T00:00:00.000Z",
    "2027-07-01T00:00:00.000Z",
  ]);
  // 2026-01-01 is a Thursday; the next Monday is the 5th.
  assert.deepEqual(runs("0 30 9 * * mon-FRI", "2026-01-01T00:00:00Z", 3), [
    "2026-01-01T09:30:00.000Z",
    "2026-01-02T09:30:00.000Z",
    "2026-01-05T09:30:00.000Z",
  ]);
  assert.deepEqual(runs("0 0 0 1 Jan-Mar/2 *", "2026-01-01T00:00:00Z", 3), [
    "2026-03-01T00:00:00.000Z",
    "2027-01-01T00:00:00.000Z",
    "2027-03-01T00:00:00.000Z",
  ]);
});

Deno.test("parseSchedule() reads ? as *", () => {
  assert.deepEqual(runs("0 0 12 ? * 1", "2026-01-01T00:00:00Z", 3), [
    "2026-01-05T12:00:00.000Z",
    "2026-01-12T12:00:00.000Z",
    "2026-01-19T12:00:00.000Z",
  ]);
  assert.deepEqual(runs("0 0 * * * ?", "2026-01-01T00:00:00Z", 2), [
    "2026-01-01T01:00:00.000Z",
    "2026-01-01T02:00:00.000Z",
  ]);
});

Deno.test("parseSchedule() runs on either day when day of month and day of week are both set", () => {
  // Fridays in January 2026 are the 2nd, 9th, 16th, 23rd and 30th; the 13th is a Tuesday and
  // 2026-02-13 is a Friday (one run, not two).
  assert.deepEqual(runs("0 0 0 13 * FRI", "2026-01-01T00:00:00Z", 10), [
    "2026-01-02T00:00:00.000Z",
    "2026-01-09T00:00:00.000Z",
    "2026-01-13T00:00:00.000Z",
    "2026-01-16T00:00:00.000Z",
    "2026-01-23T00:00:00.000Z",
    "2026-01-30T00:00:00.000Z",
    "2026-02-06T00:00:00.000Z",
    "2026-02-13T00:00:00.000Z",
    "2026-02-20T00:00:00.000Z",
    "2026-02-27T00:00:00.000Z",
  ]);
  // Classic five fields: the 1st and 15th, and every Friday.
  assert.deepEqual(runs("30 4 1,15 * 5", "2026-01-01T00:00:00Z", 6), [
    "2026-01-01T04:30:00.000Z",
    "2026-01-02T04:30:00.000Z",
    "2026-01-09T04:30:00.000Z",
    "2026-01-15T04:30:00.000Z",
    "2026-01-16T04:30:00.000Z",
    "2026-01-23T04:30:00.000Z",
  ]);
});

Deno.test("parseSchedule() needs both days to match when either is a star", () => {
  // Day of week */2 = Sunday, Tuesday, Thursday, Saturday; day of month * → both must match.
  assert.deepEqual(runs("0 0 0 * * */2", "2026-01-01T00:00:00Z", 4), [
    "2026-01-03T00:00:00.000Z",
    "2026-01-04T00:00:00.000Z",
    "2026-01-06T00:00:00.000Z",
    "2026-01-08T00:00:00.000Z",
  ]);
  // The 1st to 7th that is a Monday: the first Monday of the month needs both to match, which
  // cron cannot say; restricted fields give "1st-7th or any Monday" instead.
  assert.deepEqual(runs("0 0 0 1-7 * MON", "2026-01-08T00:00:00Z", 3), [
    "2026-01-12T00:00:00.000Z",
    "2026-01-19T00:00:00.000Z",
    "2026-01-26T00:00:00.000Z",
  ]);
});

Deno.test("parseSchedule() counts */2 in day of month as a restriction, as robfig/cron v3 does", () => {
  // v3: odd days or Mondays. Mondays of January 2026: 5, 12, 19, 26.
  assert.deepEqual(runs("0 0 0 */2 * MON", "2026-01-01T00:00:00Z", 8), [
    "2026-01-03T00:00:00.000Z",
    "2026-01-05T00:00:00.000Z",
    "2026-01-07T00:00:00.000Z",
    "2026-01-09T00:00:00.000Z",
    "2026-01-11T00:00:00.000Z",
    "2026-01-12T00:00:00.000Z",
    "2026-01-13T00:00:00.000Z",
    "2026-01-15T00:00:00.000Z",
  ]);
  // */1 keeps the star in v3 as well: Mondays only.
  assert.deepEqual(runs("0 0 0 */1 * MON", "2026-01-01T00:00:00Z", 2), [
    "2026-01-05T00:00:00.000Z",
    "2026-01-12T00:00:00.000Z",
  ]);
});

Deno.test("parseSchedule() finds leap days and skips to the next one", () => {
  assert.deepEqual(runs("0 0 0 29 2 *", "2026-01-01T00:00:00Z", 3), [
    "2028-02-29T00:00:00.000Z",
    "2032-02-29T00:00:00.000Z",
    "2036-02-29T00:00:00.000Z",
  ]);
  // 2100 is not a leap year; 2104 is more than five years ahead, so robfig and we give up.
  assert.deepEqual(runs("0 0 0 29 2 *", "2096-03-01T00:00:00Z", 1), ["none"]);
});

Deno.test("parseSchedule() runs the 31st only in months that have one", () => {
  assert.deepEqual(runs("0 0 0 31 * *", "2026-01-01T00:00:00Z", 7), [
    "2026-01-31T00:00:00.000Z",
    "2026-03-31T00:00:00.000Z",
    "2026-05-31T00:00:00.000Z",
    "2026-07-31T00:00:00.000Z",
    "2026-08-31T00:00:00.000Z",
    "2026-10-31T00:00:00.000Z",
    "2026-12-31T00:00:00.000Z",
  ]);
  assert.deepEqual(runs("59 59 23 31 12 *", "2026-06-01T00:00:00Z", 2), [
    "2026-12-31T23:59:59.000Z",
    "2027-12-31T23:59:59.000Z",
  ]);
});

Deno.test("Schedule.next() returns undefined when nothing matches within five years", () => {
  assert.equal(parseSchedule("0 0 0 30 2 *").next(new Date("2026-01-01T00:00:00Z")), undefined);
  assert.equal(
    parseSchedule("0 0 0 31 4,6,9,11 *").next(new Date("2026-01-01T00:00:00Z")),
    undefined,
  );
});

Deno.test("Schedule.next() returns the first run strictly after the time given", () => {
  const schedule = parseSchedule("0/10 * * * * *");
  assert.equal(
    schedule.next(new Date("2026-01-01T00:00:10Z"))?.at.toISOString(),
    "2026-01-01T00:00:20.000Z",
  );
  assert.equal(
    schedule.next(new Date("2026-01-01T00:00:09.999Z"))?.at.toISOString(),
    "2026-01-01T00:00:10.000Z",
  );
  assert.equal(
    schedule.next(new Date("2026-01-01T00:00:10.001Z"))?.at.toISOString(),
    "2026-01-01T00:00:20.000Z",
  );
});

Deno.test("Schedule.next() rejects an invalid date", () => {
  assert.throws(() => parseSchedule("* * * * *").next(new Date(Number.NaN)), RangeError);
  assert.throws(() => parseSchedule("@every 1m").next(new Date(Number.NaN)), RangeError);
});

Deno.test("Schedule.next() skips by field, fast even for rare schedules", () => {
  const started = performance.now();
  for (const timezone of ["UTC", "Europe/Berlin"]) {
    const leapDay = parseSchedule("0 0 0 29 2 *", { timezone });
    for (let i = 0; i < 1000; i++) {
      const from = new Date(Date.UTC(2026, 0, 1) + i * 86_400_000);
      const run = leapDay.next(from);
      assert.ok(run !== undefined && run.at > from);
    }
  }
  const never = parseSchedule("0 0 0 30 2 *", { timezone: "Europe/Berlin" });
  for (let i = 0; i < 1000; i++) {
    assert.equal(never.next(new Date(Date.UTC(2026, 0, 1) + i * 3_600_000)), undefined);
  }
  // A loop over seconds would take minutes here; field skipping takes milliseconds.
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 2_000, `took ${elapsed} ms`);
});

Deno.test("parseSchedule() reads the descriptors", () => {
  const from = "2026-01-01T00:00:00Z";
  assert.deepEqual(runs("@yearly", from, 2), [
    "2027-01-01T00:00:00.000Z",
    "2028-01-01T00:00:00.000Z",
  ]);
  assert.deepEqual(runs("@annually", from, 1), ["2027-01-01T00:00:00.000Z"]);
  assert.deepEqual(runs("@monthly", from, 2), [
    "2026-02-01T00:00:00.000Z",
    "2026-03-01T00:00:00.000Z",
  ]);
  // Sundays: 2026-01-04 and 2026-01-11.
  assert.deepEqual(runs("@weekly", from, 2), [
    "2026-01-04T00:00:00.000Z",
    "2026-01-11T00:00:00.000Z",
  ]);
  assert.deepEqual(runs("@daily", from, 2), [
    "2026-01-02T00:00:00.000Z",
    "2026-01-03T00:00:00.000Z",
  ]);
  assert.deepEqual(runs("@midnight", from, 1), ["2026-01-02T00:00:00.000Z"]);
  assert.deepEqual(runs("@hourly", from, 2), [
    "2026-01-01T01:00:00.000Z",
    "2026-01-01T02:00:00.000Z",
  ]);
  assert.equal(
    parseSchedule("@daily").description,
    "@daily = 0 0 0 * * * (second minute hour day-of-month month day-of-week)",
  );
});

Deno.test("parseSchedule() reads @every as a constant delay from the time given", () => {
  const schedule = parseSchedule("@every 1h30m");
  // The start is truncated to the second, as in robfig/cron.
  assert.deepEqual(runsOf(schedule, "2026-01-01T10:17:42.750Z", 3), [
    "2026-01-01T11:47:42.000Z",
    "2026-01-01T13:17:42.000Z",
    "2026-01-01T14:47:42.000Z",
  ]);
  assert.match(schedule.description, /constant delay of 5400s/);
  assert.deepEqual(runs("@every 2h45m10s", "2026-01-01T00:00:00Z", 1), [
    "2026-01-01T02:45:10.000Z",
  ]);
  assert.deepEqual(runs("@every 90s", "2026-01-01T00:00:00Z", 2), [
    "2026-01-01T00:01:30.000Z",
    "2026-01-01T00:03:00.000Z",
  ]);
});

Deno.test("parseSchedule() rounds @every to whole seconds, at least one, as robfig/cron does", () => {
  assert.deepEqual(runs("@every 500ms", "2026-01-01T00:00:00Z", 2), [
    "2026-01-01T00:00:01.000Z",
    "2026-01-01T00:00:02.000Z",
  ]);
  assert.deepEqual(runs("@every 1.5s", "2026-01-01T00:00:00Z", 2), [
    "2026-01-01T00:00:01.000Z",
    "2026-01-01T00:00:02.000Z",
  ]);
  assert.match(parseSchedule("@every 500ms").description, /rounded to 1s/);
});

Deno.test("parseSchedule() lets @every ignore the time zone", () => {
  const schedule = parseSchedule("CRON_TZ=Asia/Tokyo @every 1h");
  assert.equal(schedule.timezone, "Asia/Tokyo");
  assert.deepEqual(runsOf(schedule, "2026-03-29T00:30:00Z", 1), ["2026-03-29T01:30:00.000Z"]);
  assert.deepEqual(runs("@every 1h", "2026-03-29T00:30:00Z", 2, { timezone: "Europe/Berlin" }), [
    "2026-03-29T01:30:00.000Z",
    "2026-03-29T02:30:00.000Z",
  ]);
});

Deno.test("parseSchedule() reads a CRON_TZ= or TZ= prefix as the time zone", () => {
  const tokyo = parseSchedule("CRON_TZ=Asia/Tokyo 0 0 9 * * *");
  assert.equal(tokyo.timezone, "Asia/Tokyo");
  // 09:00 in Tokyo (UTC+9) is midnight UTC.
  assert.deepEqual(runsOf(tokyo, "2026-01-01T00:00:00Z", 2), [
    "2026-01-02T00:00:00.000Z",
    "2026-01-03T00:00:00.000Z",
  ]);
  // Noon in New York in winter (UTC-5) and in summer (UTC-4).
  assert.deepEqual(runs("TZ=America/New_York 0 0 12 * * *", "2026-01-01T00:00:00Z", 1), [
    "2026-01-01T17:00:00.000Z",
  ]);
  assert.deepEqual(runs("TZ=America/New_York 0 12 * * *", "2026-07-01T00:00:00Z", 1), [
    "2026-07-01T16:00:00.000Z",
  ]);
  // The prefix wins over the option.
  assert.equal(
    parseSchedule("CRON_TZ=Asia/Tokyo @daily", { timezone: "Europe/Berlin" }).timezone,
    "Asia/Tokyo",
  );
});

Deno.test("parseSchedule() reads the fields in the timezone option, UTC by default", () => {
  assert.equal(parseSchedule("@daily").timezone, "UTC");
  const kolkata = parseSchedule("0 0 9 * * *", { timezone: "Asia/Kolkata" });
  assert.equal(kolkata.timezone, "Asia/Kolkata");
  assert.deepEqual(runsOf(kolkata, "2026-01-01T00:00:00Z", 1), ["2026-01-01T03:30:00.000Z"]);
});

Deno.test("parseSchedule() keeps the text unchanged", () => {
  const text = "  CRON_TZ=Europe/Berlin   0 0 3 * * *  ";
  const schedule = parseSchedule(text);
  assert.equal(schedule.text, text);
  assert.equal(schedule.toString(), text);
  assert.equal(`${parseSchedule("@every 1m")}`, "@every 1m");
});

Deno.test("parseSchedule() in the gocron dialect reads five fields as seconds first", () => {
  const every5s = parseSchedule("*/5 * * * *", { dialect: "gocron" });
  assert.equal(
    every5s.description,
    "gocron v1: 5 fields = second minute hour day-of-month month (day-of-week = *)",
  );
  assert.deepEqual(runsOf(every5s, "2026-01-01T00:00:00Z", 3), [
    "2026-01-01T00:00:05.000Z",
    "2026-01-01T00:00:10.000Z",
    "2026-01-01T00:00:15.000Z",
  ]);
  // go-cron's default: every second.
  assert.deepEqual(runs("* * * * *", "2026-01-01T00:00:00Z", 2, { dialect: "gocron" }), [
    "2026-01-01T00:00:01.000Z",
    "2026-01-01T00:00:02.000Z",
  ]);
  // The same text in the two dialects: noon daily, or midnight on the 12th.
  assert.deepEqual(runs("0 0 12 * *", "2026-01-01T00:00:00Z", 1, { dialect: "gocron" }), [
    "2026-01-01T12:00:00.000Z",
  ]);
  assert.deepEqual(runs("0 0 12 * *", "2026-01-01T00:00:00Z", 1), ["2026-01-12T00:00:00.000Z"]);
});

Deno.test("parseSchedule() in the gocron dialect reads six fields and descriptors as robfig/cron does", () => {
  const options = { dialect: "gocron" } as const;
  assert.equal(
    parseSchedule("0 30 9 * * MON-FRI", options).description,
    "gocron v1: 6 fields = second minute hour day-of-month month day-of-week",
  );
  assert.deepEqual(runs("0 30 9 * * MON-FRI", "2026-01-02T12:00:00Z", 1, options), [
    "2026-01-05T09:30:00.000Z",
  ]);
  assert.deepEqual(runs("0 0 0 13 * FRI", "2026-01-01T00:00:00Z", 3, options), [
    "2026-01-02T00:00:00.000Z",
    "2026-01-09T00:00:00.000Z",
    "2026-01-13T00:00:00.000Z",
  ]);
  assert.deepEqual(runs("@hourly", "2026-01-01T00:00:00Z", 1, options), [
    "2026-01-01T01:00:00.000Z",
  ]);
  assert.deepEqual(runs("@every 10s", "2026-01-01T00:00:00Z", 1, options), [
    "2026-01-01T00:00:10.000Z",
  ]);
});

Deno.test("parseSchedule() in the gocron dialect counts */2 in day of month as a star, as v1 did", () => {
  // v1: odd days that are Mondays (both must match). Mondays: Jan 5, 12, 19, 26; Feb 2, 9, 16, 23.
  assert.deepEqual(runs("0 0 0 */2 * MON", "2026-01-01T00:00:00Z", 4, { dialect: "gocron" }), [
    "2026-01-05T00:00:00.000Z",
    "2026-01-19T00:00:00.000Z",
    "2026-02-09T00:00:00.000Z",
    "2026-02-23T00:00:00.000Z",
  ]);
});

Deno.test("parseSchedule() rejects an unknown time zone in the option with a RangeError", () => {
  assert.throws(() => parseSchedule("@daily", { timezone: "Mars/Olympus" }), {
    name: "RangeError",
    message: /Unknown time zone "Mars\/Olympus"/,
  });
  // Even when a prefix overrides it.
  assert.throws(
    () => parseSchedule("CRON_TZ=UTC @daily", { timezone: "Mars/Olympus" }),
    RangeError,
  );
});

Deno.test("parseSchedule() rejects an unknown dialect", () => {
  assert.throws(
    () => parseSchedule("@daily", { dialect: "quartz" as unknown as "standard" }),
    { name: "RangeError", message: /Unknown cron dialect "quartz"/ },
  );
});

Deno.test("ScheduleSyntaxError names the schedule, the field and the reason", () => {
  const error = syntaxError("0 61 * * * *");
  assert.equal(
    error.message,
    'Invalid schedule "0 61 * * * *": minute field: value 61 is out of range 0-59',
  );
  assert.equal(error.field, "minute");
  assert.equal(error.expression, "0 61 * * * *");
  assert.equal(error.name, "ScheduleSyntaxError");
  assert.ok(error instanceof SyntaxError);
  const count = syntaxError("* * * *");
  assert.equal(count.field, undefined);
  assert.match(
    count.message,
    /^Invalid schedule "\* \* \* \*": expected 5 or 6 fields, found 4 \(/,
  );
  assert.doesNotMatch(count.message, /\.$/);
});

// [schedule, expected fragment of the message, dialect]
const INVALID: [string, string, ParseScheduleOptions?][] = [
  ["", "the schedule is empty"],
  ["   ", "the schedule is empty"],
  ["* * * *", "expected 5 or 6 fields, found 4"],
  [
    "* * * * * * *",
    "found 7 (second minute hour day-of-month month day-of-week, the second optional; a seventh",
  ],
  [
    "* * * *",
    "found 4 (second minute hour day-of-month month day-of-week, the day-of-week optional)",
    {
      dialect: "gocron",
    },
  ],
  ["60 * * * * *", "second field: value 60 is out of range 0-59"],
  ["0 61 * * * *", "minute field: value 61 is out of range 0-59"],
  ["0 0 24 * * *", "hour field: value 24 is out of range 0-23"],
  ["0 0 0 0 * *", "day-of-month field: value 0 is out of range 1-31"],
  ["0 0 0 32 * *", "day-of-month field: value 32 is out of range 1-31"],
  ["0 0 0 1 13 *", "month field: value 13 is out of range 1-12"],
  ["0 0 0 1 0 *", "month field: value 0 is out of range 1-12"],
  ["0 0 0 * * 7", "day-of-week field: value 7 is out of range 0-6 (Sunday is 0)"],
  ["0 0 0 * * 7", "day-of-week field: value 7 is out of range 0-6", { dialect: "gocron" }],
  ["0 0 0 1 JANUARY *", 'month field: unknown month name "JANUARY" (use JAN-DEC or 1-12)'],
  ["0 0 0 1 JAN-FOO *", 'month field: unknown month name "FOO"'],
  ["0 0 0 * * MONDAY", 'day-of-week field: unknown day name "MONDAY" (use SUN-SAT or 0-6'],
  ["0 0 0 * * constructor", 'unknown day name "constructor"'],
  [
    "0 0 MON * * *",
    'hour field: "MON" is not a number (names are allowed in the month and day-of-week',
  ],
  ["0 0 0 L * *", 'day-of-month field: "L" is not a number'],
  ["1.5 * * * * *", 'second field: "1.5" is not a number'],
  ["+5 * * * * *", '"+5" is not a number'],
  ["*/0 * * * * *", 'second field: step must be at least 1, found "*/0"'],
  ["0 5/0 * * * *", "minute field: step must be at least 1"],
  ["*/ * * * * *", 'missing step after "/" in "*/"'],
  ["*/x * * * * *", 'step "x" in "*/x" is not a number'],
  ["/5 * * * * *", 'missing value before "/" in "/5"'],
  ["5-1 * * * * *", 'second field: range "5-1" ends before it starts'],
  ["0 0 0 * * FRI-MON", 'day-of-week field: range "FRI-MON" ends before it starts'],
  ["1-2-3 * * * * *", '"1-2-3" has more than one "-"'],
  ["1/2/3 * * * * *", '"1/2/3" has more than one "/"'],
  ["1- * * * * *", 'missing end of range in "1-"'],
  ["-5 * * * * *", 'missing start of range in "-5" (negative values are not allowed)'],
  ["*-5 * * * * *", '"*-5": "*" cannot start a range'],
  ["1,,2 * * * * *", 'second field: empty item in list "1,,2"'],
  ["0 0 0 1, * *", 'empty item in list "1,"'],
  ["@fortnightly", 'unknown descriptor "@fortnightly" (use @yearly, @annually'],
  ["@Daily", 'unknown descriptor "@Daily" (did you mean "@daily"?'],
  ["@every", 'missing duration after @every (for example "@every 1h30m")'],
  ["@every 10x", 'invalid duration "10x": unknown unit "x" (use ns, us, ms, s, m or h)'],
  ["@every 10", 'invalid duration "10": missing unit'],
  ["@every 0s", '@every needs a positive duration, found "0s"'],
  ["@every -1m", '@every needs a positive duration, found "-1m"'],
  ["CRON_TZ=Mars/Olympus * * * * *", 'unknown time zone "Mars/Olympus" (use an IANA name'],
  ["TZ=Europe/Berlin", 'expected a schedule after "TZ=Europe/Berlin"'],
  ["CRON_TZ= * * * * *", 'missing time zone after "CRON_TZ="'],
];

for (const [text, fragment, options] of INVALID) {
  const dialect = options?.dialect === undefined ? "" : ` (${options.dialect})`;
  Deno.test(`parseSchedule() rejects ${JSON.stringify(text)}${dialect}`, () => {
    const error = syntaxError(text, options);
    assert.ok(
      error.message.includes(fragment),
      `message ${JSON.stringify(error.message)} lacks ${JSON.stringify(fragment)}`,
    );
    assert.ok(error.message.startsWith(`Invalid schedule ${JSON.stringify(text)}: `));
    assert.doesNotMatch(error.message, /\.$/);
  });
}
