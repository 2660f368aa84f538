// Checks and verdict helpers shared by both planners.

import type { BackupItem, Plan, Verdict } from "./_types.ts";

/** Newest first; equal times fall back to the greater id so input order never matters. */
export function sortNewestFirst(items: readonly BackupItem[]): BackupItem[] {
  return [...items].sort((a, b) =>
    b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
  );
}

/** Throws if ids repeat or a time is not a valid date: a plan names items by id alone. */
export function checkItems(items: readonly BackupItem[]): void {
  if (!Array.isArray(items)) {
    throw new TypeError(`Invalid backups: expected an array, got ${typeof items}`);
  }
  const seen = new Set<string>();
  for (const item of items) {
    if (typeof item?.id !== "string" || item.id === "") {
      throw new TypeError(
        `Invalid backup: id must be a non-empty string, got ${JSON.stringify(item?.id)}`,
      );
    }
    if (!(item.time instanceof Date)) {
      throw new TypeError(`Invalid backup ${JSON.stringify(item.id)}: time must be a Date`);
    }
    if (Number.isNaN(item.time.getTime())) {
      throw new RangeError(`Invalid backup ${JSON.stringify(item.id)}: time is an invalid date`);
    }
    if (seen.has(item.id)) {
      throw new RangeError(
        `Duplicate backup id ${JSON.stringify(item.id)}: each backup needs an id of its own`,
      );
    }
    seen.add(item.id);
  }
}

/** Throws unless `now` is a valid Date. */
export function checkNow(now: Date): void {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new RangeError(`Invalid retention option "now": expected a valid Date`);
  }
}

/**
 * Throws a `TypeError` for a key not in `known` (camelCase to config name): a misspelt
 * `minCount` silently ignored would delete more than the user asked for.
 */
export function checkKeys(policy: object, known: Readonly<Record<string, string>>): void {
  if (typeof policy !== "object" || policy === null) {
    throw new TypeError(
      `Invalid retention policy: expected an object, got ${
        policy === null ? "null" : typeof policy
      }`,
    );
  }
  for (const key of Object.keys(policy)) {
    if (Object.hasOwn(known, key)) continue;
    const camel = Object.entries(known).find(([, name]) => name === key)?.[0];
    const hint = camel === undefined
      ? `known keys: ${Object.keys(known).join(", ")}`
      : `did you mean ${JSON.stringify(camel)}?`;
    throw new TypeError(`Invalid retention policy: unknown key ${JSON.stringify(key)} (${hint})`);
  }
}

/** Throws a `RangeError` naming `name` unless `value` is absent or a whole number ≥ 1. */
export function checkCount(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Invalid retention policy: ${name} is ${
        JSON.stringify(String(value))
      }: use a whole number of at least 1, or leave ${name} out`,
    );
  }
}

/** Throws a `RangeError` naming `name` unless `ms` is absent or a positive finite duration. */
export function checkDuration(name: string, ms: number | undefined): void {
  if (ms === undefined) return;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms <= 0) {
    throw new RangeError(
      `Invalid retention policy: ${name} is ${
        JSON.stringify(`${ms}ms`)
      }: use a positive duration such as "30d", or leave ${name} out`,
    );
  }
}

/** Whether `item` is one of the job's: with no job given, every item is. */
export function ownedBy(item: BackupItem, job: string | undefined): boolean {
  return job === undefined || item.job === job;
}

/** A verdict. */
export function verdict(
  item: BackupItem,
  action: Verdict["action"],
  rule: string,
  reason: string,
): Verdict {
  return { id: item.id, action, rule, reason };
}

/** The kept verdict for an item some other job created. */
export function notThisJob(item: BackupItem, job: string, noun: string): Verdict {
  const owner = item.job === undefined
    ? "has no job tag"
    : `belongs to job ${JSON.stringify(item.job)}`;
  return verdict(
    item,
    "keep",
    "not-this-job",
    `${owner}, not ${JSON.stringify(job)}: retention never deletes a ${noun} it did not create`,
  );
}

/** The kept verdict when no rule is set at all. */
export function noPolicy(item: BackupItem): Verdict {
  return verdict(item, "keep", "no-policy", "no retention rule is set, so nothing is deleted");
}

/**
 * The verdict for an unsuccessful item: deleted when a kept successful one is newer, kept
 * while it is the latest word (it may be all there is to look at).
 */
export function failedVerdict(
  item: BackupItem,
  newerOk: BackupItem | undefined,
  noun: string,
): Verdict {
  const what = item.state === undefined ? "not successful" : `state ${JSON.stringify(item.state)}`;
  if (newerOk === undefined) {
    return verdict(
      item,
      "keep",
      "failed-no-newer-success",
      `${what}, but no newer successful ${noun} exists yet; kept until one does`,
    );
  }
  return verdict(
    item,
    "delete",
    "failed-superseded",
    `${what}, superseded by the newer successful ${noun} ${JSON.stringify(newerOk.id)}`,
  );
}

/** The kept verdict for an item still being written. */
export function inProgress(item: BackupItem, noun: string): Verdict {
  return verdict(
    item,
    "keep",
    "in-progress",
    `state ${JSON.stringify(item.state)}: a ${noun} still being taken is never deleted`,
  );
}

/** Whether a not-ok item's state says it is still running. */
export function isInProgress(item: BackupItem): boolean {
  return item.state?.toUpperCase() === "IN_PROGRESS";
}

/**
 * Of `okKept` (successful items kept so far, newest first), the nearest strictly newer than
 * `time`; ties in time do not supersede.
 */
export function nearestNewer(okKept: readonly BackupItem[], time: Date): BackupItem | undefined {
  for (let i = okKept.length - 1; i >= 0; i--) {
    const candidate = okKept[i]!;
    if (candidate.time.getTime() > time.getTime()) return candidate;
  }
  return undefined;
}

/** Collects verdicts into a plan. */
export function toPlan(verdicts: Verdict[]): Plan {
  return {
    verdicts,
    delete: verdicts.filter((v) => v.action === "delete").map((v) => v.id),
    keep: verdicts.filter((v) => v.action === "keep").map((v) => v.id),
  };
}

const UNITS = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const;

/** A policy duration in full, e.g. `30d` or `1d12h`; sub-second rests show as ms. */
export function formatDuration(ms: number): string {
  let rest = ms;
  let out = "";
  for (const [unit, size] of UNITS) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  if (rest > 0 || out === "") out += `${Math.round(rest)}ms`;
  return out;
}

/** An age to two units, e.g. `40d3h old`, or how far in the future a clock-skewed item is. */
export function formatAge(ms: number): string {
  const size = Math.abs(ms);
  const parts: string[] = [];
  let rest = size;
  for (const [unit, unitMs] of UNITS) {
    if (rest >= unitMs && parts.length < 2) {
      parts.push(`${Math.floor(rest / unitMs)}${unit}`);
      rest %= unitMs;
    } else if (parts.length > 0) {
      break;
    }
  }
  const text = parts.length === 0 ? "0s" : parts.join("");
  return ms < 0 ? `dated ${text} in the future` : `${text} old`;
}
