// The calendar half of next(): searching wall-clock time, with no time zone in sight. A wall-clock
// time is written as milliseconds since 1970-01-01T00:00 as if the zone were UTC; _zone.ts maps
// it to instants.

import type { ValueSet } from "./_fields.ts";

/** A parsed cron expression: the values each field allows. */
export interface CronFields {
  readonly second: ValueSet;
  readonly minute: ValueSet;
  readonly hour: ValueSet;
  readonly dayOfMonth: ValueSet;
  readonly month: ValueSet;
  readonly dayOfWeek: ValueSet;
}

/** Year, month (1-12), day, hour, minute and second of a wall-clock time. */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** Days in `month` (1-12) of `year`, proleptic Gregorian. */
export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1] ?? 31;
}

/** The wall-clock time as milliseconds; unlike `Date.UTC`, years 0-99 are not read as 19xx. */
export function wallClockMs(wall: WallClock): number {
  const date = new Date(0);
  date.setUTCFullYear(wall.year, wall.month - 1, wall.day);
  date.setUTCHours(wall.hour, wall.minute, wall.second, 0);
  return date.getTime();
}

/** Splits wall-clock milliseconds into fields (sub-second part dropped). */
export function splitWallClock(ms: number): WallClock {
  const date = new Date(ms);
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    second: date.getUTCSeconds(),
  };
}

function weekday(year: number, month: number, day: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCDay();
}

/**
 * robfig/cron's day rule: if either day field is a star, both must match; if both are
 * restricted, either may match (`0 0 0 13 * FRI` runs on every 13th and every Friday).
 */
export function dayMatches(fields: CronFields, day: number, dayOfWeek: number): boolean {
  const domMatch = fields.dayOfMonth.has(day);
  const dowMatch = fields.dayOfWeek.has(dayOfWeek);
  if (fields.dayOfMonth.star || fields.dayOfWeek.star) return domMatch && dowMatch;
  return domMatch || dowMatch;
}

function firstMatchingDay(fields: CronFields, year: number, month: number, from: number) {
  let dow = weekday(year, month, from);
  const last = daysInMonth(year, month);
  for (let day = from; day <= last; day++) {
    if (dayMatches(fields, day, dow)) return day;
    dow = (dow + 1) % 7;
  }
  return undefined;
}

/**
 * The earliest wall-clock time at or after `from` (whole seconds) that the fields allow, in a
 * year no later than `lastYear`. Each step jumps a whole field to its next allowed value, so the
 * cost is a few steps per month or year searched, never one per second.
 */
export function nextWallClockMatch(
  fields: CronFields,
  from: number,
  lastYear: number,
): number | undefined {
  let { year, month, day, hour, minute, second } = splitWallClock(from);
  const nextDay = () => {
    hour = minute = second = 0;
    if (++day > daysInMonth(year, month)) {
      day = 1;
      if (++month > 12) {
        month = 1;
        year++;
      }
    }
  };
  for (;;) {
    if (year > lastYear) return undefined;

    const m = fields.month.nextFrom(month);
    if (m === undefined) {
      year++;
      month = day = 1;
      hour = minute = second = 0;
      continue;
    }
    if (m !== month) {
      month = m;
      day = 1;
      hour = minute = second = 0;
    }

    const d = firstMatchingDay(fields, year, month, day);
    if (d === undefined) {
      month++; // month 13 finds no match above and rolls the year over
      day = 1;
      hour = minute = second = 0;
      continue;
    }
    if (d !== day) {
      day = d;
      hour = minute = second = 0;
    }

    const h = fields.hour.nextFrom(hour);
    if (h === undefined) {
      nextDay();
      continue;
    }
    if (h !== hour) {
      hour = h;
      minute = second = 0;
    }

    const mi = fields.minute.nextFrom(minute);
    if (mi === undefined) {
      minute = second = 0;
      if (++hour > 23) nextDay();
      continue;
    }
    if (mi !== minute) {
      minute = mi;
      second = 0;
    }

    const s = fields.second.nextFrom(second);
    if (s === undefined) {
      second = 0;
      if (++minute > 59) {
        minute = 0;
        if (++hour > 23) nextDay();
      }
      continue;
    }
    return wallClockMs({ year, month, day, hour, minute, second: s });
  }
}
