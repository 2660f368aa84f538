// Calendar buckets of an instant in an IANA zone, read from Intl.DateTimeFormat.

/** The buckets an instant falls in, as labels that also name them in reasons. */
export interface Buckets {
  /** `2026-10-25T02:00+01:00`: the offset tells apart the hour a DST fall-back repeats. */
  hour: string;
  /** `2026-03-01` */
  day: string;
  /** `2026-W09` (ISO 8601: weeks start on Monday, week 1 holds the year's first Thursday) */
  week: string;
  /** `2026-03` */
  month: string;
  /** `2026` */
  year: string;
}

/** Returns a function giving the buckets of an instant in `timeZone`; throws a `RangeError` naming an unknown zone. */
export function calendarIn(timeZone: string): (time: Date) => Buckets {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US-u-ca-gregory-nu-latn", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch (error) {
    throw new RangeError(
      `Invalid retention option "timezone": unknown time zone ${
        JSON.stringify(timeZone)
      } (use an IANA name such as "Europe/Berlin" or "UTC")`,
      { cause: error },
    );
  }
  return (time) => {
    const parts: Record<string, number> = {};
    for (const part of format.formatToParts(time)) {
      if (part.type !== "literal") parts[part.type] = Number(part.value);
    }
    const year = parts.year ?? 0;
    const month = parts.month ?? 1;
    const day = parts.day ?? 1;
    const hour = parts.hour ?? 0;
    const wall = civilMs(year, month, day) + hour * 3_600_000 + (parts.minute ?? 0) * 60_000 +
      (parts.second ?? 0) * 1000;
    const offsetMinutes = Math.round((wall - Math.floor(time.getTime() / 1000) * 1000) / 60_000);
    const y = pad(year, 4);
    const ymd = `${y}-${pad(month, 2)}-${pad(day, 2)}`;
    return {
      hour: `${ymd}T${pad(hour, 2)}:00${formatOffset(offsetMinutes)}`,
      day: ymd,
      week: isoWeek(year, month, day),
      month: `${y}-${pad(month, 2)}`,
      year: y,
    };
  };
}

/** The ISO week of a calendar date, e.g. `2026-W01` for 2025-12-29. */
export function isoWeek(year: number, month: number, day: number): string {
  const date = civilMs(year, month, day);
  const mondayBased = (new Date(date).getUTCDay() + 6) % 7;
  const thursday = new Date(date + (3 - mondayBased) * 86_400_000);
  const weekYear = thursday.getUTCFullYear();
  const ordinal = (thursday.getTime() - civilMs(weekYear, 1, 1)) / 86_400_000;
  return `${pad(weekYear, 4)}-W${pad(Math.floor(ordinal / 7) + 1, 2)}`;
}

// Unlike Date.UTC, years 0-99 are not read as 19xx.
function civilMs(year: number, month: number, day: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getTime();
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

function formatOffset(minutes: number): string {
  if (minutes === 0) return "Z";
  const size = Math.abs(minutes);
  return `${minutes < 0 ? "-" : "+"}${pad(Math.floor(size / 60), 2)}:${pad(size % 60, 2)}`;
}
