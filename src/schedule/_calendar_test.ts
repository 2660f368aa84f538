import assert from "node:assert/strict";
import {
  type CronFields,
  daysInMonth,
  nextWallClockMatch,
  splitWallClock,
  wallClockMs,
} from "./_calendar.ts";
import { DAY_OF_MONTH, DAY_OF_WEEK, HOUR, MINUTE, MONTH, parseField, SECOND } from "./_fields.ts";

function fields(text: string): CronFields {
  const [second = "", minute = "", hour = "", dayOfMonth = "", month = "", dayOfWeek = ""] = text
    .split(" ");
  const options = { expression: text, starRule: "v3" } as const;
  return {
    second: parseField(second, SECOND, options),
    minute: parseField(minute, MINUTE, options),
    hour: parseField(hour, HOUR, options),
    dayOfMonth: parseField(dayOfMonth, DAY_OF_MONTH, options),
    month: parseField(month, MONTH, options),
    dayOfWeek: parseField(dayOfWeek, DAY_OF_WEEK, options),
  };
}

Deno.test("daysInMonth() knows leap years", () => {
  assert.equal(daysInMonth(2026, 2), 28);
  assert.equal(daysInMonth(2028, 2), 29);
  assert.equal(daysInMonth(2100, 2), 28);
  assert.equal(daysInMonth(2000, 2), 29);
  assert.equal(daysInMonth(2026, 4), 30);
  assert.equal(daysInMonth(2026, 12), 31);
});

Deno.test("wallClockMs() does not read years 0-99 as 19xx", () => {
  const wall = { year: 50, month: 3, day: 1, hour: 12, minute: 0, second: 0 };
  assert.deepEqual(splitWallClock(wallClockMs(wall)), wall);
});

Deno.test("nextWallClockMatch() includes the start and carries over every field", () => {
  const from = Date.UTC(2026, 11, 31, 23, 59, 59);
  assert.equal(nextWallClockMatch(fields("* * * * * *"), from, 2031), from);
  assert.equal(nextWallClockMatch(fields("0 * * * * *"), from, 2031), Date.UTC(2027, 0, 1));
  assert.equal(nextWallClockMatch(fields("0 0 0 1 3 *"), from, 2031), Date.UTC(2027, 2, 1));
});

Deno.test("nextWallClockMatch() stops after the last year", () => {
  const from = Date.UTC(2026, 0, 1);
  assert.equal(nextWallClockMatch(fields("0 0 0 29 2 *"), from, 2027), undefined);
  assert.equal(nextWallClockMatch(fields("0 0 0 29 2 *"), from, 2028), Date.UTC(2028, 1, 29));
});
