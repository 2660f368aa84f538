// One cron field (`*/15`, `1-5`, `MON-FRI`, `0/10`, `1,15`) read into the set of values it allows.

import { ScheduleSyntaxError } from "./_errors.ts";

/** The six cron fields, named as error messages name them. */
export type FieldName = "second" | "minute" | "hour" | "day-of-month" | "month" | "day-of-week";

/** The allowed values of one field and, for month and day of week, their names. */
export interface FieldBounds {
  readonly name: FieldName;
  readonly min: number;
  readonly max: number;
  readonly names?: Readonly<Record<string, number>>;
  /** What a name in this field is, and how to write one, for error messages. */
  readonly nameKind?: string;
  readonly nameHint?: string;
}

export const SECOND: FieldBounds = { name: "second", min: 0, max: 59 };
export const MINUTE: FieldBounds = { name: "minute", min: 0, max: 59 };
export const HOUR: FieldBounds = { name: "hour", min: 0, max: 23 };
export const DAY_OF_MONTH: FieldBounds = { name: "day-of-month", min: 1, max: 31 };
export const MONTH: FieldBounds = {
  name: "month",
  min: 1,
  max: 12,
  names: {
    jan: 1,
    feb: 2,
    mar: 3,
    apr: 4,
    may: 5,
    jun: 6,
    jul: 7,
    aug: 8,
    sep: 9,
    oct: 10,
    nov: 11,
    dec: 12,
  },
  nameKind: "month",
  nameHint: "JAN-DEC or 1-12",
};
// robfig/cron allows 0-6 only; 7 for Sunday (as in Vixie cron) is an error there and here.
export const DAY_OF_WEEK: FieldBounds = {
  name: "day-of-week",
  min: 0,
  max: 6,
  names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 },
  nameKind: "day",
  nameHint: "SUN-SAT or 0-6, Sunday is 0",
};

/**
 * How `*` with a step counts for the day-of-month/day-of-week rule. robfig/cron v3 (`"v3"`)
 * treats `*\/2` as a restriction, like `1-31/2`; v1 (`"v1"`, go-cron's) still counted it as `*`.
 */
export type StarRule = "v1" | "v3";

/** The values one field allows, with a fast "next allowed value" lookup. */
export class ValueSet {
  /** True when the field was written as `*` or `?` (see {@linkcode StarRule}). */
  readonly star: boolean;
  readonly min: number;
  readonly max: number;
  // #next[v] is the smallest allowed value >= v, or -1.
  readonly #next: Int8Array;

  constructor(bounds: Pick<FieldBounds, "min" | "max">, values: Iterable<number>, star = false) {
    this.min = bounds.min;
    this.max = bounds.max;
    this.star = star;
    const allowed = new Set(values);
    this.#next = new Int8Array(bounds.max + 2).fill(-1);
    for (let v = bounds.max; v >= bounds.min; v--) {
      this.#next[v] = allowed.has(v) ? v : this.#next[v + 1] ?? -1;
    }
    for (let v = bounds.min - 1; v >= 0; v--) this.#next[v] = this.#next[bounds.min] ?? -1;
  }

  /** Whether `value` is allowed. */
  has(value: number): boolean {
    return value >= this.min && value <= this.max && this.#next[value] === value;
  }

  /** The smallest allowed value that is at least `value`, if any. */
  nextFrom(value: number): number | undefined {
    if (value > this.max) return undefined;
    const next = this.#next[Math.max(value, 0)] ?? -1;
    return next < 0 ? undefined : next;
  }

  /** Whether every value from min to max is allowed. */
  get full(): boolean {
    for (let v = this.min; v <= this.max; v++) if (!this.has(v)) return false;
    return true;
  }

  /** The allowed values, ascending. */
  values(): number[] {
    const out: number[] = [];
    for (let v = this.min; v <= this.max; v++) if (this.has(v)) out.push(v);
    return out;
  }
}

/** Context for {@linkcode parseField}: the whole schedule, for the error message. */
export interface ParseFieldOptions {
  expression: string;
  starRule: StarRule;
}

/**
 * Reads one field: a comma-separated list of `*`, `?`, `n`, `a-b`, each optionally followed by
 * `/step`, where `a/step` runs from a to the field's maximum (robfig/cron's reading).
 */
export function parseField(
  text: string,
  bounds: FieldBounds,
  options: ParseFieldOptions,
): ValueSet {
  const fail: (reason: string) => never = (reason) => {
    throw new ScheduleSyntaxError(options.expression, reason, { field: bounds.name });
  };
  const values: number[] = [];
  let star = false;
  for (const item of text.split(",")) {
    if (item === "") fail(`empty item in list ${JSON.stringify(text)}`);
    const [rangeText = "", stepText, ...extraSlashes] = item.split("/");
    if (extraSlashes.length > 0) fail(`${JSON.stringify(item)} has more than one "/"`);
    let step = 1;
    if (stepText !== undefined) {
      if (stepText === "") fail(`missing step after "/" in ${JSON.stringify(item)}`);
      if (!/^\d+$/.test(stepText)) {
        fail(`step ${JSON.stringify(stepText)} in ${JSON.stringify(item)} is not a number`);
      }
      step = Number(stepText);
      if (step < 1) fail(`step must be at least 1, found ${JSON.stringify(item)}`);
    }
    let start: number;
    let end: number;
    if (rangeText === "*" || rangeText === "?") {
      start = bounds.min;
      end = bounds.max;
      if (step === 1 || options.starRule === "v1") star = true;
    } else if (rangeText.startsWith("*") || rangeText.startsWith("?")) {
      // robfig silently reads "*-5" as "*"; that hides a typo, so refuse it.
      fail(
        `${JSON.stringify(item)}: "${rangeText[0]}" cannot start a range (use "*" alone or "a-b")`,
      );
    } else {
      const [low, high, ...extraHyphens] = rangeText.split("-");
      if (extraHyphens.length > 0) fail(`${JSON.stringify(item)} has more than one "-"`);
      if (low === undefined || low === "") {
        fail(
          rangeText === ""
            ? `missing value before "/" in ${JSON.stringify(item)}`
            : `missing start of range in ${JSON.stringify(item)} (negative values are not allowed)`,
        );
      }
      start = parseValue(low, bounds, fail);
      if (high === undefined) {
        // "a/n" means "a-max/n".
        end = stepText === undefined ? start : bounds.max;
      } else {
        if (high === "") fail(`missing end of range in ${JSON.stringify(item)}`);
        end = parseValue(high, bounds, fail);
        if (start > end) {
          fail(
            `range ${
              JSON.stringify(rangeText)
            } ends before it starts (write the smaller value first)`,
          );
        }
      }
    }
    for (let v = start; v <= end; v += step) values.push(v);
  }
  return new ValueSet(bounds, values, star);
}

function parseValue(token: string, bounds: FieldBounds, fail: (reason: string) => never): number {
  if (/^\d+$/.test(token)) {
    const value = Number(token);
    if (value < bounds.min || value > bounds.max) {
      const hint = bounds.name === "day-of-week" ? " (Sunday is 0)" : "";
      fail(`value ${token} is out of range ${bounds.min}-${bounds.max}${hint}`);
    }
    return value;
  }
  if (bounds.names !== undefined) {
    const key = token.toLowerCase();
    // hasOwn, so that "constructor" is not read off Object.prototype.
    const named = Object.hasOwn(bounds.names, key) ? bounds.names[key] : undefined;
    if (named !== undefined) return named;
    if (/^[a-z]+$/i.test(token)) {
      fail(`unknown ${bounds.nameKind} name ${JSON.stringify(token)} (use ${bounds.nameHint})`);
    }
  } else if (/^[a-z]+$/i.test(token)) {
    fail(
      `${
        JSON.stringify(token)
      } is not a number (names are allowed in the month and day-of-week fields only)`,
    );
  }
  return fail(`${JSON.stringify(token)} is not a number`);
}
