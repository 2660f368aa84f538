// UTC offsets and their changes for an IANA zone, read from Intl.DateTimeFormat (no tz database
// of our own). Offsets are in milliseconds: wall clock = instant + offset.

const DAY_MS = 86_400_000;
const SECOND_MS = 1_000;

/** A change of UTC offset: from `at` on, the offset is `after` instead of `before`. */
export interface Transition {
  readonly at: number;
  readonly before: number;
  readonly after: number;
}

interface YearTable {
  // The offset just before the year's first instant, then the changes within the year.
  readonly offsetBefore: number;
  readonly transitions: readonly Transition[];
}

// Zones whose offset never changes; their names as Intl resolves them.
const FIXED_ZONE = /^(UTC|GMT|Etc\/.+|[+-]\d{2}(:?\d{2})?)$/;

// Names of UTC itself, which need no Intl.DateTimeFormat: creating the first one loads ICU's
// locale and zone data, about 6 MiB of the daemon's idle memory, and UTC is the default zone.
const UTC_NAME = /^(Etc\/)?(UTC|UCT|GMT|Universal|Zulu)$/i;

/** A time zone's offsets, with each year's transitions found once and kept. */
export class TimeZone {
  /** The name as the caller wrote it. */
  readonly name: string;
  readonly #format: Intl.DateTimeFormat | undefined;
  readonly #fixedOffset: number | undefined;
  readonly #years = new Map<number, YearTable>();

  /** Throws a `RangeError` naming the zone if Intl does not know it. */
  constructor(name: string) {
    this.name = name;
    if (UTC_NAME.test(name)) {
      this.#fixedOffset = 0;
      return;
    }
    try {
      this.#format = new Intl.DateTimeFormat("en-US-u-ca-gregory-nu-latn", {
        timeZone: name,
        hourCycle: "h23",
        era: "short",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch (error) {
      throw new RangeError(
        `Unknown time zone ${
          JSON.stringify(name)
        }: use an IANA name such as "Europe/Berlin" or "UTC"`,
        { cause: error },
      );
    }
    const resolved = this.#format.resolvedOptions().timeZone;
    this.#fixedOffset = FIXED_ZONE.test(resolved) ? this.#rawOffset(0) : undefined;
  }

  /** Whether the offset never changes (UTC and the like). */
  get fixed(): boolean {
    return this.#fixedOffset !== undefined;
  }

  /** The UTC offset in force at `instant`. */
  offsetAt(instant: number): number {
    if (this.#fixedOffset !== undefined) return this.#fixedOffset;
    const table = this.#year(utcYear(instant));
    let offset = table.offsetBefore;
    for (const t of table.transitions) {
      if (t.at > instant) break;
      offset = t.after;
    }
    return offset;
  }

  /** The first transition with `after < at <= until`, if any. */
  nextTransition(after: number, until: number): Transition | undefined {
    if (this.#fixedOffset !== undefined || until <= after) return undefined;
    for (let year = utcYear(after); year <= utcYear(until); year++) {
      for (const t of this.#year(year).transitions) {
        if (t.at > until) return undefined;
        if (t.at > after) return t;
      }
    }
    return undefined;
  }

  /** The last transition at or before `instant` within about a year, if any. */
  lastTransition(instant: number): Transition | undefined {
    if (this.#fixedOffset !== undefined) return undefined;
    const year = utcYear(instant);
    for (const y of [year, year - 1]) {
      const list = this.#year(y).transitions;
      for (let i = list.length - 1; i >= 0; i--) {
        const t = list[i];
        if (t !== undefined && t.at <= instant) return t;
      }
    }
    return undefined;
  }

  #year(year: number): YearTable {
    let table = this.#years.get(year);
    if (table === undefined) {
      table = this.#scanYear(year);
      this.#years.set(year, table);
    }
    return table;
  }

  // Samples the offset once a day and bisects each change to the second. Two changes less than
  // a day apart would be missed; the current tz rules have none.
  #scanYear(year: number): YearTable {
    const start = utcMs(year);
    const end = utcMs(year + 1);
    const offsetBefore = this.#rawOffset(start - SECOND_MS);
    const transitions: Transition[] = [];
    let t = start - SECOND_MS;
    let offset = offsetBefore;
    while (t < end - SECOND_MS) {
      const next = Math.min(t + DAY_MS, end - SECOND_MS);
      const nextOffset = this.#rawOffset(next);
      if (nextOffset !== offset) {
        let lo = t;
        let hi = next;
        while (hi - lo > SECOND_MS) {
          const mid = lo + Math.floor((hi - lo) / 2 / SECOND_MS) * SECOND_MS;
          if (this.#rawOffset(mid) === offset) lo = mid;
          else hi = mid;
        }
        transitions.push({ at: hi, before: offset, after: this.#rawOffset(hi) });
        offset = this.#rawOffset(hi);
        t = hi;
        continue;
      }
      t = next;
    }
    return { offsetBefore, transitions };
  }

  #rawOffset(instant: number): number {
    if (this.#format === undefined) return 0;
    const whole = Math.floor(instant / SECOND_MS) * SECOND_MS;
    const parts: Record<string, string> = {};
    for (const part of this.#format.formatToParts(whole)) parts[part.type] = part.value;
    const yearOfEra = Number(parts.year);
    const year = parts.era === "BC" || parts.era === "B" ? 1 - yearOfEra : yearOfEra;
    const wall = new Date(0);
    wall.setUTCFullYear(year, Number(parts.month) - 1, Number(parts.day));
    wall.setUTCHours(Number(parts.hour), Number(parts.minute), Number(parts.second), 0);
    return wall.getTime() - whole;
  }
}

function utcYear(instant: number): number {
  return new Date(instant).getUTCFullYear();
}

function utcMs(year: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, 0, 1);
  return date.getTime();
}

/** `HH:MM:SS` shortened to `HH:MM` when the seconds are zero. */
export function shortTime(hms: string): string {
  return hms.endsWith(":00") ? hms.slice(0, 5) : hms;
}

// Parsing a zone costs a year scan or more; schedules in the same zone share one TimeZone. Only a
// memo: a TimeZone holds nothing but offsets derived from its name.
const loaded = new Map<string, TimeZone>();

/** The {@linkcode TimeZone} for `name`, shared between callers; `RangeError` if unknown. */
export function loadTimeZone(name: string): TimeZone {
  let zone = loaded.get(name);
  if (zone === undefined) {
    zone = new TimeZone(name);
    loaded.set(name, zone);
  }
  return zone;
}

/** True when `name` is a time zone this runtime knows (an IANA name, or UTC by any of its names). */
export function isTimeZone(name: string): boolean {
  try {
    loadTimeZone(name);
    return true;
  } catch {
    return false;
  }
}

/** An offset in milliseconds as `UTC+02:00`. */
export function formatOffset(offset: number): string {
  const sign = offset < 0 ? "-" : "+";
  const minutes = Math.round(Math.abs(offset) / 60_000);
  const hh = String(Math.floor(minutes / 60)).padStart(2, "0");
  const mm = String(minutes % 60).padStart(2, "0");
  return `UTC${sign}${hh}:${mm}`;
}
