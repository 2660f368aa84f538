// `@every <duration>`: robfig/cron's ConstantDelaySchedule. The next run is the time asked about,
// truncated to the second, plus the delay; the time zone plays no part.

import type { NextRun, Schedule } from "./mod.ts";

const SECOND_MS = 1_000;

/** What an {@linkcode EverySchedule} is built from. */
export interface EveryScheduleInit {
  text: string;
  description: string;
  timezone: string;
  /** Whole seconds, at least one. */
  delayMs: number;
}

/** A constant delay between runs. */
export class EverySchedule implements Schedule {
  readonly text: string;
  readonly timezone: string;
  readonly description: string;
  /** The delay between runs in milliseconds, a whole number of seconds. */
  readonly delayMs: number;

  constructor(init: EveryScheduleInit) {
    if (!(init.delayMs >= SECOND_MS && init.delayMs % SECOND_MS === 0)) {
      throw new RangeError(
        `Delay must be a whole number of seconds, at least 1, found ${init.delayMs} ms`,
      );
    }
    this.text = init.text;
    this.timezone = init.timezone;
    this.description = init.description;
    this.delayMs = init.delayMs;
  }

  /** The time asked about, truncated to the second, plus the delay. */
  next(after: Date): NextRun | undefined {
    const afterMs = after.getTime();
    if (Number.isNaN(afterMs)) {
      throw new RangeError("Cannot compute the next run after an invalid date");
    }
    return { at: new Date(Math.floor(afterMs / SECOND_MS) * SECOND_MS + this.delayMs) };
  }

  /** The schedule text as given. */
  toString(): string {
    return this.text;
  }
}
