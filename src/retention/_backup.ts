// Grandfather-father-son retention in the manner of restic: a successful backup survives if any
// rule keeps it, and the reason lists every rule that does.

import { type Buckets, calendarIn } from "./_calendar.ts";
import {
  checkCount,
  checkDuration,
  checkItems,
  checkKeys,
  checkNow,
  failedVerdict,
  formatAge,
  formatDuration,
  inProgress,
  isInProgress,
  nearestNewer,
  noPolicy,
  notThisJob,
  ownedBy,
  sortNewestFirst,
  toPlan,
  verdict,
} from "./_common.ts";
import type {
  BackupItem,
  BackupRetentionOptions,
  BackupRetentionPolicy,
  Plan,
  Verdict,
} from "./_types.ts";

const KEYS: Readonly<Record<keyof BackupRetentionPolicy, string>> = {
  keepLast: "keep_last",
  keepWithinMs: "keep_within",
  keepHourly: "keep_hourly",
  keepDaily: "keep_daily",
  keepWeekly: "keep_weekly",
  keepMonthly: "keep_monthly",
  keepYearly: "keep_yearly",
};

const BUCKET_RULES = [
  ["keepHourly", "hour"],
  ["keepDaily", "day"],
  ["keepWeekly", "week"],
  ["keepMonthly", "month"],
  ["keepYearly", "year"],
] as const satisfies readonly (readonly [keyof BackupRetentionPolicy, keyof Buckets])[];

/** Throws a `RangeError` naming the config key (`keep_daily`, …) when the policy cannot work. */
export function checkBackupPolicy(policy: BackupRetentionPolicy): void {
  checkKeys(policy, KEYS);
  checkDuration(KEYS.keepWithinMs, policy.keepWithinMs);
  for (const key of Object.keys(KEYS) as (keyof BackupRetentionPolicy)[]) {
    if (key !== "keepWithinMs") checkCount(KEYS[key], policy[key]);
  }
}

// Per successful item: the rules that keep it, each with its detail ("keep_daily (2026-03-01)"),
// and why the others do not ("day 2026-02-01 is older than the 7 newest days (keep_daily)").
interface Judgement {
  rules: string[];
  keptBy: string[];
  missed: string[];
}

/**
 * Decides which backups to delete under a keep_last / keep_within / keep_hourly … keep_yearly
 * policy, bucketing by the calendar of `options.timezone`.
 */
export function planBackupRetention(
  items: readonly BackupItem[],
  policy: BackupRetentionPolicy,
  options: BackupRetentionOptions,
): Plan {
  checkBackupPolicy(policy);
  checkNow(options.now);
  checkItems(items);
  const calendar = calendarIn(options.timezone ?? "UTC");
  const job = options.job;
  const sorted = sortNewestFirst(items);
  if (Object.values(policy).every((value) => value === undefined)) {
    return toPlan(
      sorted.map((item) =>
        ownedBy(item, job) ? noPolicy(item) : notThisJob(item, job ?? "", "backup")
      ),
    );
  }
  const ok = sorted.filter((item) => item.ok && ownedBy(item, job));
  const judged = judge(ok, policy, options.now.getTime(), calendar);
  const okKept: BackupItem[] = [];
  const verdicts = sorted.map((item): Verdict => {
    if (!ownedBy(item, job)) return notThisJob(item, job ?? "", "backup");
    if (!item.ok) {
      if (isInProgress(item)) return inProgress(item, "backup");
      return failedVerdict(item, nearestNewer(okKept, item.time), "backup");
    }
    const { rules, keptBy, missed } = judged.get(item)!;
    if (okKept.length === 0) {
      okKept.push(item);
      const also = keptBy.length === 0 ? "" : `; also kept by ${keptBy.join(", ")}`;
      return verdict(
        item,
        "keep",
        "newest-success",
        `the newest successful backup is always kept${also}`,
      );
    }
    const rule = rules[0];
    if (rule !== undefined) {
      okKept.push(item);
      return verdict(item, "keep", rule, `kept by ${keptBy.join(", ")}`);
    }
    return verdict(item, "delete", "unmatched", `no rule keeps it: ${missed.join(", ")}`);
  });
  return toPlan(verdicts);
}

function judge(
  ok: readonly BackupItem[],
  policy: BackupRetentionPolicy,
  now: number,
  calendar: (time: Date) => Buckets,
): Map<BackupItem, Judgement> {
  const judged = new Map<BackupItem, Judgement>(
    ok.map((item) => [item, { rules: [], keptBy: [], missed: [] }]),
  );
  function keep(entry: Judgement, rule: string, detail: string): void {
    entry.rules.push(rule);
    entry.keptBy.push(`${rule} (${detail})`);
  }
  const { keepLast, keepWithinMs } = policy;
  ok.forEach((item, index) => {
    const entry = judged.get(item)!;
    if (keepLast !== undefined) {
      if (index < keepLast) keep(entry, KEYS.keepLast, `${index + 1} of ${keepLast}`);
      else entry.missed.push(`not among the ${keepLast} newest (keep_last)`);
    }
    if (keepWithinMs !== undefined) {
      const age = now - item.time.getTime();
      const within = formatDuration(keepWithinMs);
      if (age < keepWithinMs) keep(entry, KEYS.keepWithinMs, `${formatAge(age)}, within ${within}`);
      else entry.missed.push(`older than ${within} (keep_within)`);
    }
  });
  const bucketed = BUCKET_RULES.some(([key]) => policy[key] !== undefined);
  const buckets = new Map(bucketed ? ok.map((item) => [item, calendar(item.time)]) : []);
  for (const [key, unit] of BUCKET_RULES) {
    const count = policy[key];
    if (count === undefined) continue;
    const rule = KEYS[key];
    // Labels whose newest item this rule keeps, and labels reached after the count ran out.
    const kept = new Set<string>();
    const late = new Set<string>();
    for (const item of ok) {
      const entry = judged.get(item)!;
      const label = buckets.get(item)![unit];
      if (kept.has(label)) {
        entry.missed.push(`${unit} ${label} already kept by a newer backup (${rule})`);
      } else if (!late.has(label) && kept.size < count) {
        kept.add(label);
        keep(entry, rule, label);
      } else {
        late.add(label);
        entry.missed.push(`${unit} ${label} is older than the ${count} newest ${unit}s (${rule})`);
      }
    }
  }
  return judged;
}
