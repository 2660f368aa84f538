import assert from "node:assert/strict";
import { type NextRun, parseSchedule } from "./mod.ts";

// DST in 2026 (hand-checked against the tz database rules):
// - Europe/Berlin springs forward on 2026-03-29 at 02:00 CET (01:00Z) to 03:00 CEST, and falls
//   back on 2026-10-25 at 03:00 CEST (01:00Z) to 02:00 CET: 02:00-02:59 local runs from 00:00Z
//   (first pass) and again from 01:00Z (second pass).
// - America/New_York springs forward on 2026-03-08 at 02:00 EST (07:00Z) to 03:00 EDT, and falls
//   back on 2026-11-01 at 02:00 EDT (06:00Z) to 01:00 EST: 01:00-01:59 local runs from 05:00Z
//   and again from 06:00Z.

interface Run {
  at: string;
  note?: string;
}

function runs(text: string, from: string, count: number): Run[] {
  const schedule = parseSchedule(text);
  const out: Run[] = [];
  let at = new Date(from);
  for (let i = 0; i < count; i++) {
    const run: NextRun | undefined = schedule.next(at);
    if (run === undefined) break;
    out.push(
      run.note === undefined
        ? { at: run.at.toISOString() }
        : { at: run.at.toISOString(), note: run.note },
    );
    at = run.at;
  }
  return out;
}

function times(text: string, from: string, count: number): string[] {
  return runs(text, from, count).map((run) => run.at);
}

Deno.test("Schedule.next() runs a slot in the spring-forward gap once, after the gap, with a note", () => {
  assert.deepEqual(runs("CRON_TZ=Europe/Berlin 0 30 2 * * *", "2026-03-28T00:00:00Z", 3), [
    { at: "2026-03-28T01:30:00.000Z" },
    {
      at: "2026-03-29T01:00:00.000Z",
      note:
        "local time 02:30 does not exist in Europe/Berlin on 2026-03-29 (clocks go forward from 02:00 to 03:00); running at 03:00 instead",
    },
    { at: "2026-03-30T00:30:00.000Z" },
  ]);
});

Deno.test("Schedule.next() collapses several gap slots into one run", () => {
  assert.deepEqual(runs("CRON_TZ=Europe/Berlin 0 */20 2 * * *", "2026-03-28T23:00:00Z", 2), [
    {
      at: "2026-03-29T01:00:00.000Z",
      note:
        "local times 02:00 to 02:40 (3 runs) do not exist in Europe/Berlin on 2026-03-29 (clocks go forward from 02:00 to 03:00); running once at 03:00 instead",
    },
    { at: "2026-03-30T00:00:00.000Z" },
  ]);
});

Deno.test("Schedule.next() does not run the first slot after the gap twice", () => {
  // 02:00 and 02:30 fall in the gap and run at 03:00, which is a slot itself: one run.
  assert.deepEqual(times("CRON_TZ=Europe/Berlin 0 0,30 2,3 * * *", "2026-03-29T00:00:00Z", 3), [
    "2026-03-29T01:00:00.000Z",
    "2026-03-29T01:30:00.000Z",
    "2026-03-30T00:00:00.000Z",
  ]);
});

Deno.test("Schedule.next() runs gap slots when asked from the last second before the gap", () => {
  // 01:59:59 CET and 01:59:59.5 CET: the next instant is 03:00:00 CEST, where the gap's slots
  // are due; searching from 03:00 local alone would lose them without a word.
  for (const from of ["2026-03-29T00:59:59Z", "2026-03-29T00:59:59.500Z"]) {
    assert.deepEqual(runs("CRON_TZ=Europe/Berlin * * 1,2 * * *", from, 2), [
      {
        at: "2026-03-29T01:00:00.000Z",
        note:
          "local times 02:00 to 02:59:59 (3600 runs) do not exist in Europe/Berlin on 2026-03-29 (clocks go forward from 02:00 to 03:00); running once at 03:00 instead",
      },
      { at: "2026-03-29T23:00:00.000Z" },
    ]);
  }
});

Deno.test("Schedule.next() keeps an every-hour schedule on real time across the gap", () => {
  assert.deepEqual(runs("CRON_TZ=Europe/Berlin 0 30 * * * *", "2026-03-29T00:00:00Z", 3), [
    { at: "2026-03-29T00:30:00.000Z" },
    {
      at: "2026-03-29T01:30:00.000Z",
      note:
        "local time 02:30 does not exist in Europe/Berlin on 2026-03-29 (clocks go forward from 02:00 to 03:00); the hour field allows every hour, so the schedule keeps to real time and skips it",
    },
    { at: "2026-03-29T02:30:00.000Z" },
  ]);
  // Every 10 seconds ticks straight from 01:59:50 CET to 03:00:00 CEST.
  const ticks = runs("CRON_TZ=Europe/Berlin */10 * * * * *", "2026-03-29T00:59:40Z", 3);
  assert.deepEqual(ticks.map((run) => run.at), [
    "2026-03-29T00:59:50.000Z",
    "2026-03-29T01:00:00.000Z",
    "2026-03-29T01:00:10.000Z",
  ]);
  assert.match(
    ticks[1]?.note ?? "",
    /^local times 02:00 to 02:59:50 do not exist in Europe\/Berlin/,
  );
});

Deno.test("Schedule.next() leaves midnight schedules alone on the day clocks go forward", () => {
  assert.deepEqual(runs("CRON_TZ=Europe/Berlin @daily", "2026-03-28T12:00:00Z", 2), [
    { at: "2026-03-28T23:00:00.000Z" },
    { at: "2026-03-29T22:00:00.000Z" },
  ]);
});

Deno.test("Schedule.next() runs a wall-clock slot in the repeated hour on the first pass only", () => {
  assert.deepEqual(runs("CRON_TZ=Europe/Berlin 0 30 2 * * *", "2026-10-24T12:00:00Z", 2), [
    {
      at: "2026-10-25T00:30:00.000Z",
      note:
        "local time 02:30 occurs twice in Europe/Berlin on 2026-10-25 (clocks go back from 03:00 to 02:00); running on the first pass only (UTC+02:00)",
    },
    { at: "2026-10-26T01:30:00.000Z" },
  ]);
  // Several slots in the repeated hour: one note, on the first.
  const slots = runs("CRON_TZ=Europe/Berlin 0 0/20 2 * * *", "2026-10-24T23:00:00Z", 4);
  assert.deepEqual(slots.map((run) => run.at), [
    "2026-10-25T00:00:00.000Z",
    "2026-10-25T00:20:00.000Z",
    "2026-10-25T00:40:00.000Z",
    "2026-10-26T01:00:00.000Z",
  ]);
  assert.match(slots[0]?.note ?? "", /^local times 02:00 to 02:40 \(3 runs\) occur twice/);
  assert.equal(slots[1]?.note, undefined);
});

Deno.test("Schedule.next() skips the second pass when asked from inside it", () => {
  // 02:10 CET, the second pass: 02:30 already ran at 00:30Z.
  assert.deepEqual(times("CRON_TZ=Europe/Berlin 0 30 2 * * *", "2026-10-25T01:10:00Z", 1), [
    "2026-10-26T01:30:00.000Z",
  ]);
  // 02:30 CEST, the first pass: 02:45 CEST is still to come.
  assert.deepEqual(times("CRON_TZ=Europe/Berlin 0 45 2 * * *", "2026-10-25T00:30:00Z", 2), [
    "2026-10-25T00:45:00.000Z",
    "2026-10-26T01:45:00.000Z",
  ]);
});

Deno.test("Schedule.next() runs an every-hour schedule on both passes of the repeated hour", () => {
  assert.deepEqual(runs("CRON_TZ=Europe/Berlin 0 30 * * * *", "2026-10-24T23:00:00Z", 4), [
    { at: "2026-10-24T23:30:00.000Z" },
    { at: "2026-10-25T00:30:00.000Z" },
    { at: "2026-10-25T01:30:00.000Z" },
    { at: "2026-10-25T02:30:00.000Z" },
  ]);
  // Every 10 seconds keeps ticking from 02:59:50 CEST into 02:00:00 CET.
  assert.deepEqual(times("CRON_TZ=Europe/Berlin */10 * * * * *", "2026-10-25T00:59:40Z", 3), [
    "2026-10-25T00:59:50.000Z",
    "2026-10-25T01:00:00.000Z",
    "2026-10-25T01:00:10.000Z",
  ]);
});

Deno.test("Schedule.next() handles the New York gap", () => {
  assert.deepEqual(runs("CRON_TZ=America/New_York 0 30 2 * * *", "2026-03-07T12:00:00Z", 2), [
    {
      at: "2026-03-08T07:00:00.000Z",
      note:
        "local time 02:30 does not exist in America/New_York on 2026-03-08 (clocks go forward from 02:00 to 03:00); running at 03:00 instead",
    },
    { at: "2026-03-09T06:30:00.000Z" },
  ]);
  assert.deepEqual(times("CRON_TZ=America/New_York @hourly", "2026-03-08T05:30:00Z", 3), [
    "2026-03-08T06:00:00.000Z",
    "2026-03-08T07:00:00.000Z",
    "2026-03-08T08:00:00.000Z",
  ]);
});

Deno.test("Schedule.next() handles the New York repeated hour", () => {
  const daily = runs("CRON_TZ=America/New_York 0 30 1 * * *", "2026-10-31T12:00:00Z", 2);
  assert.deepEqual(daily.map((run) => run.at), [
    "2026-11-01T05:30:00.000Z",
    "2026-11-02T06:30:00.000Z",
  ]);
  assert.match(
    daily[0]?.note ?? "",
    /^local time 01:30 occurs twice in America\/New_York on 2026-11-01 .*\(UTC-04:00\)$/,
  );
  assert.deepEqual(runs("CRON_TZ=America/New_York @hourly", "2026-11-01T04:30:00Z", 3), [
    { at: "2026-11-01T05:00:00.000Z" },
    { at: "2026-11-01T06:00:00.000Z" },
    { at: "2026-11-01T07:00:00.000Z" },
  ]);
  assert.deepEqual(times("CRON_TZ=America/New_York @daily", "2026-10-31T12:00:00Z", 2), [
    "2026-11-01T04:00:00.000Z",
    "2026-11-02T05:00:00.000Z",
  ]);
});

Deno.test("Schedule.next() runs midnight after the gap where clocks skip midnight", () => {
  // Chile moves from UTC-4 to UTC-3 at 00:00 on 2026-09-06: that day has no midnight.
  const [first, second] = runs("CRON_TZ=America/Santiago @daily", "2026-09-05T12:00:00Z", 2);
  assert.deepEqual(first, {
    at: "2026-09-06T04:00:00.000Z",
    note:
      "local time 00:00 does not exist in America/Santiago on 2026-09-06 (clocks go forward from 00:00 to 01:00); running at 01:00 instead",
  });
  assert.deepEqual(second, { at: "2026-09-07T03:00:00.000Z" });
});
