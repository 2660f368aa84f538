// next() for a cron expression in a time zone. The search runs in wall-clock time (_calendar.ts)
// one stretch of constant UTC offset at a time; where the offset changes, the DST rules written
// up in mod.ts decide what runs.

import { type CronFields, nextWallClockMatch } from "./_calendar.ts";
import { formatOffset, shortTime, type TimeZone, type Transition } from "./_zone.ts";
import type { NextRun, Schedule } from "./mod.ts";

const SECOND_MS = 1_000;
const DAY_MS = 86_400_000;
// robfig/cron gives up after five years; so do we.
const SEARCH_YEARS = 5;
// Counting the slots a DST note names stops here; more would add nothing to the note.
const MAX_SLOTS_COUNTED = 10_000;

/** What a {@linkcode CronSchedule} is built from. */
export interface CronScheduleInit {
  text: string;
  description: string;
  fields: CronFields;
  zone: TimeZone;
}

/** A cron expression (or a descriptor other than `@every`) in a time zone. */
export class CronSchedule implements Schedule {
  readonly text: string;
  readonly timezone: string;
  readonly description: string;
  readonly #fields: CronFields;
  readonly #zone: TimeZone;
  // An hour field that allows every hour makes the schedule interval-like: it follows real
  // time through DST changes instead of the wall clock (see mod.ts).
  readonly #everyHour: boolean;

  constructor(init: CronScheduleInit) {
    this.text = init.text;
    this.timezone = init.zone.name;
    this.description = init.description;
    this.#fields = init.fields;
    this.#zone = init.zone;
    this.#everyHour = init.fields.hour.full;
  }

  /** The first run strictly after `after`, or `undefined` if none within five years. */
  next(after: Date): NextRun | undefined {
    const afterMs = after.getTime();
    if (Number.isNaN(afterMs)) {
      throw new RangeError("Cannot compute the next run after an invalid date");
    }
    const zone = this.#zone;
    let from = Math.floor(afterMs / SECOND_MS) * SECOND_MS + SECOND_MS;
    const lastYear = new Date(from + zone.offsetAt(from)).getUTCFullYear() + SEARCH_YEARS;
    let skippedNote: string | undefined;
    // Each pass searches from `from` assuming its offset holds; if a transition comes first, the
    // next pass starts at that transition. Passes are bounded by the transitions in five years.
    for (;;) {
      const offset = zone.offsetAt(from);
      let wallFrom = from + offset;
      const last = zone.lastTransition(from);
      if (last !== undefined && last.at === from && last.after > last.before) {
        // `from` is the first instant after a spring-forward gap: the gap's slots are due now.
        const inGap = nextWallClockMatch(this.#fields, from + last.before, lastYear);
        if (inGap !== undefined && inGap < wallFrom) {
          if (!this.#everyHour) return { at: new Date(from), note: this.#gapNote(inGap, last) };
          skippedNote ??= this.#skippedNote(inGap, last);
        }
      }
      if (!this.#everyHour && last !== undefined && last.after < last.before) {
        // In the second pass of a repeated hour, skip the wall-clock times the first pass had.
        wallFrom = Math.max(wallFrom, last.at + last.before);
      }
      const wall = nextWallClockMatch(this.#fields, wallFrom, lastYear);
      if (wall === undefined) return undefined;
      const instant = wall - offset;
      const change = zone.nextTransition(from, instant);
      if (change === undefined) return this.#run(instant, wall, skippedNote);
      from = change.at;
    }
  }

  /** The schedule text as given. */
  toString(): string {
    return this.text;
  }

  #run(instant: number, wall: number, note: string | undefined): NextRun {
    const run: NextRun = { at: new Date(instant) };
    if (note === undefined && !this.#everyHour) note = this.#repeatNote(instant, wall);
    if (note !== undefined) run.note = note;
    return run;
  }

  // A wall-clock slot in the hour that fall back repeats runs on the first pass only. Say so
  // once per repeated hour, on its first slot, not on every slot in it.
  #repeatNote(instant: number, wall: number): string | undefined {
    const change = this.#zone.nextTransition(instant, instant + DAY_MS);
    if (change === undefined || change.after > change.before) return undefined;
    const repeatStart = change.at + change.after;
    if (wall < repeatStart) return undefined;
    const year = new Date(wall).getUTCFullYear();
    if (nextWallClockMatch(this.#fields, repeatStart, year + 1) !== wall) return undefined;
    const { last, count } = this.#slotsBefore(wall, change.at + change.before);
    const times = count === 1
      ? `local time ${wallTime(wall)} occurs`
      : `local times ${wallTime(wall)} to ${wallTime(last)} (${count} runs) occur`;
    return `${times} twice in ${this.timezone} on ${wallDate(wall)} ${
      clockChange(change)
    }; running on the first pass only (${formatOffset(change.before)})`;
  }

  // This schedule's wall-clock slots from `first` (a slot) up to `end`, exclusive.
  #slotsBefore(first: number, end: number): { last: number; count: number } {
    let last = first;
    let count = 1;
    while (count < MAX_SLOTS_COUNTED) {
      const next = nextWallClockMatch(
        this.#fields,
        last + SECOND_MS,
        new Date(end).getUTCFullYear(),
      );
      if (next === undefined || next >= end) break;
      last = next;
      count++;
    }
    return { last, count };
  }

  #gapNote(first: number, change: Transition): string {
    const { last, count } = this.#slotsBefore(first, change.at + change.after);
    const runAt = wallTime(change.at + change.after);
    const where = `in ${this.timezone} on ${wallDate(first)} ${clockChange(change)}`;
    if (count === 1) {
      return `local time ${wallTime(first)} does not exist ${where}; running at ${runAt} instead`;
    }
    return `local times ${wallTime(first)} to ${
      wallTime(last)
    } (${count} runs) do not exist ${where}; running once at ${runAt} instead`;
  }

  #skippedNote(first: number, change: Transition): string {
    const { last, count } = this.#slotsBefore(first, change.at + change.after);
    const times = count === 1
      ? `local time ${wallTime(first)} does`
      : `local times ${wallTime(first)} to ${wallTime(last)} do`;
    return `${times} not exist in ${this.timezone} on ${wallDate(first)} ${
      clockChange(change)
    }; the hour field allows every hour, so the schedule keeps to real time and skips ${
      count === 1 ? "it" : "them"
    }`;
  }
}

function wallTime(wall: number): string {
  return shortTime(new Date(wall).toISOString().slice(11, 19));
}

function wallDate(wall: number): string {
  return new Date(wall).toISOString().slice(0, 10);
}

function clockChange(change: Transition): string {
  const direction = change.after > change.before ? "forward" : "back";
  return `(clocks go ${direction} from ${wallTime(change.at + change.before)} to ${
    wallTime(change.at + change.after)
  })`;
}
