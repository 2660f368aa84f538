import assert from "node:assert/strict";
import {
  type BackupItem,
  type BackupRetentionOptions,
  type BackupRetentionPolicy,
  type Plan,
  planBackupRetention,
} from "./mod.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Items written as "YYYY-MM-DDTHH[:MM][/F|/R][@job]" in UTC: "/F" is a failed backup, "/R" one
 * still in progress. The id is the word up to any "/" or "@".
 */
function backups(spec: string): BackupItem[] {
  return spec.trim().split(/\s+/).map((word) => {
    const match = /^(\d{4}-\d\d-\d\dT\d\d(?::\d\d)?)(?:\/([FR]))?(?:@(.+))?$/.exec(word);
    if (match === null) throw new SyntaxError(`Bad item spec ${JSON.stringify(word)}`);
    const time = match[1]!;
    const item: BackupItem = {
      id: time,
      time: new Date(`${time}${time.length === 13 ? ":00" : ""}:00Z`),
      ok: match[2] === undefined,
    };
    if (match[2] !== undefined) item.state = match[2] === "F" ? "FAILED" : "IN_PROGRESS";
    if (match[3] !== undefined) item.job = match[3];
    return item;
  });
}

/** Verdicts as "+rule" (keep) or "-rule" (delete), newest first. */
function outcome(plan: Plan): string {
  return plan.verdicts.map((v) => `${v.action === "keep" ? "+" : "-"}${v.rule}`).join(" ");
}

function reasons(plan: Plan): string[] {
  return plan.verdicts.map((v) => `${v.id} ${v.action} ${v.rule}: ${v.reason}`);
}

interface Case {
  name: string;
  policy: BackupRetentionPolicy;
  now?: string;
  job?: string;
  items: string;
  expect: string;
}

// 2026-03-01 is a Sunday; ISO week 2026-W10 runs Monday 03-02 to Sunday 03-08.
const CASES: Case[] = [
  {
    name: "keep_last keeps the N newest successes",
    policy: { keepLast: 2 },
    items: "2026-03-05T00 2026-03-04T00 2026-03-03T00/F 2026-03-02T00",
    expect: "+newest-success +keep_last -failed-superseded -unmatched",
  },
  {
    name: "keep_last counts only successes",
    policy: { keepLast: 2 },
    items: "2026-03-05T00/F 2026-03-04T00 2026-03-03T00/F 2026-03-02T00 2026-03-01T00",
    expect: "+failed-no-newer-success +newest-success -failed-superseded +keep_last -unmatched",
  },
  {
    name: "keep_within keeps what is strictly newer than now minus the duration",
    policy: { keepWithinMs: 2 * DAY },
    now: "2026-03-05T12:00:00Z",
    items: "2026-03-05T00 2026-03-03T13 2026-03-03T12 2026-03-01T00",
    expect: "+newest-success +keep_within -unmatched -unmatched",
  },
  {
    name: "keep_within alone still keeps the newest success when all are older",
    policy: { keepWithinMs: DAY },
    now: "2026-04-01T00:00:00Z",
    items: "2026-03-05T00 2026-03-04T00",
    expect: "+newest-success -unmatched",
  },
  {
    name: "keep_daily counts only days that have a success",
    policy: { keepDaily: 3 },
    items:
      "2026-03-05T18 2026-03-05T06 2026-03-04T18/F 2026-03-04T06/F 2026-03-03T12 2026-03-02T23 2026-03-02T01 2026-03-01T12",
    expect:
      "+newest-success -unmatched -failed-superseded -failed-superseded +keep_daily +keep_daily -unmatched -unmatched",
  },
  {
    name: "keep_daily keeps the newest success of a day whose latest backup failed",
    policy: { keepDaily: 2 },
    items: "2026-03-05T18 2026-03-04T18/F 2026-03-04T12 2026-03-04T06",
    expect: "+newest-success -failed-superseded +keep_daily -unmatched",
  },
  {
    name: "keep_hourly buckets by calendar hour, not by 60 minutes back",
    policy: { keepHourly: 2 },
    items: "2026-03-01T10:50 2026-03-01T10:10 2026-03-01T09:30 2026-03-01T08:59",
    expect: "+newest-success -unmatched +keep_hourly -unmatched",
  },
  {
    name: "keep_weekly buckets by ISO week starting on Monday",
    policy: { keepWeekly: 2 },
    items: "2026-03-09T00 2026-03-08T23 2026-03-02T00 2026-03-01T23",
    expect: "+newest-success +keep_weekly -unmatched -unmatched",
  },
  {
    name: "keep_monthly and keep_yearly each pick their own newest",
    policy: { keepMonthly: 2, keepYearly: 2 },
    items: "2026-02-10T00 2026-01-20T00 2026-01-05T00 2025-12-31T00 2025-06-01T00 2024-12-31T00",
    expect: "+newest-success +keep_monthly -unmatched +keep_yearly -unmatched -unmatched",
  },
  {
    name: "IN_PROGRESS is never deleted",
    policy: { keepLast: 1 },
    items: "2026-03-05T00 2026-03-04T00/R 2026-03-03T00",
    expect: "+newest-success +in-progress -unmatched",
  },
  {
    name: "a policy without any rule keeps everything, failures included",
    policy: {},
    items: "2026-03-05T00 2026-03-04T00/F 2026-03-03T00",
    expect: "+no-policy +no-policy +no-policy",
  },
  {
    name: "other jobs are untouched and do not count",
    policy: { keepLast: 1 },
    job: "etcd",
    items:
      "2026-03-06T00@other 2026-03-05T00@etcd 2026-03-04T00/F@etcd 2026-03-03T00 2026-03-02T00@etcd",
    expect: "+not-this-job +newest-success -failed-superseded +not-this-job -unmatched",
  },
];

for (const c of CASES) {
  Deno.test(`planBackupRetention() ${c.name}`, () => {
    const options: BackupRetentionOptions = { now: new Date(c.now ?? "2026-04-01T00:00:00Z") };
    if (c.job !== undefined) options.job = c.job;
    assert.equal(outcome(planBackupRetention(backups(c.items), c.policy, options)), c.expect);
  });
}

Deno.test("planBackupRetention() names every rule that keeps an item and why others do not", () => {
  const items = backups("2026-03-09T06 2026-03-08T23 2026-03-08T12 2026-03-07T23 2026-03-01T10");
  const plan = planBackupRetention(items, { keepLast: 2, keepDaily: 2, keepWeekly: 2 }, {
    now: new Date("2026-03-09T07:00:00Z"),
  });
  assert.deepEqual(reasons(plan), [
    "2026-03-09T06 keep newest-success: the newest successful backup is always kept; also kept by keep_last (1 of 2), keep_daily (2026-03-09), keep_weekly (2026-W11)",
    "2026-03-08T23 keep keep_last: kept by keep_last (2 of 2), keep_daily (2026-03-08), keep_weekly (2026-W10)",
    "2026-03-08T12 delete unmatched: no rule keeps it: not among the 2 newest (keep_last), day 2026-03-08 already kept by a newer backup (keep_daily), week 2026-W10 already kept by a newer backup (keep_weekly)",
    "2026-03-07T23 delete unmatched: no rule keeps it: not among the 2 newest (keep_last), day 2026-03-07 is older than the 2 newest days (keep_daily), week 2026-W10 already kept by a newer backup (keep_weekly)",
    "2026-03-01T10 delete unmatched: no rule keeps it: not among the 2 newest (keep_last), day 2026-03-01 is older than the 2 newest days (keep_daily), week 2026-W09 is older than the 2 newest weeks (keep_weekly)",
  ]);
});

Deno.test("planBackupRetention() explains keep_within with the age", () => {
  const items = backups("2026-03-05T00 2026-03-04T21:30");
  const plan = planBackupRetention(items, { keepWithinMs: DAY + 12 * HOUR }, {
    now: new Date("2026-03-05T06:00:00Z"),
  });
  assert.equal(plan.verdicts[1]!.reason, "kept by keep_within (8h30m old, within 1d12h)");
});

Deno.test("planBackupRetention() buckets days in the given zone: UTC and America/New_York differ", () => {
  // 2026-03-02T02:00Z is still 21:00 on 1 March in New York (EST, UTC-5).
  const items = backups("2026-03-02T12 2026-03-02T02 2026-03-01T12");
  const now = new Date("2026-03-02T13:00:00Z");
  const utc = planBackupRetention(items, { keepDaily: 2 }, { now });
  assert.deepEqual(utc.keep, ["2026-03-02T12", "2026-03-01T12"]);
  assert.deepEqual(utc.delete, ["2026-03-02T02"]);
  const ny = planBackupRetention(items, { keepDaily: 2 }, { now, timezone: "America/New_York" });
  assert.deepEqual(ny.keep, ["2026-03-02T12", "2026-03-02T02"]);
  assert.deepEqual(ny.delete, ["2026-03-01T12"]);
  assert.equal(ny.verdicts[1]!.reason, "kept by keep_daily (2026-03-01)");
  assert.match(ny.verdicts[2]!.reason, /day 2026-03-01 already kept by a newer backup/);
});

Deno.test("planBackupRetention() keeps Europe/Berlin's days and ISO weeks across the spring DST change", () => {
  // Clocks go from 02:00 CET to 03:00 CEST on Sunday 2026-03-29, so that day has 23 hours.
  const items: BackupItem[] = [];
  for (
    let t = Date.parse("2026-03-23T00:00:00Z");
    t <= Date.parse("2026-03-31T23:00:00Z");
    t += HOUR
  ) {
    items.push({ id: new Date(t).toISOString().slice(0, 13), time: new Date(t), ok: true });
  }
  const now = new Date("2026-04-01T00:00:00Z");
  const berlin = planBackupRetention(items, { keepDaily: 20 }, { now, timezone: "Europe/Berlin" });
  // The last backup of each local day: 23:00 CET is 22:00Z, 23:00 CEST is 21:00Z.
  assert.deepEqual(berlin.keep, [
    "2026-03-31T23", // 01:00 on 1 April in Berlin, the newest
    "2026-03-31T21",
    "2026-03-30T21",
    "2026-03-29T21",
    "2026-03-28T22",
    "2026-03-27T22",
    "2026-03-26T22",
    "2026-03-25T22",
    "2026-03-24T22",
    "2026-03-23T22",
  ]);
  const sameDay = (label: string) =>
    berlin.verdicts.filter((v) => v.reason.includes(`day ${label} already kept`)).length;
  assert.equal(sameDay("2026-03-29"), 22);
  assert.equal(sameDay("2026-03-28"), 23);
  const utc = planBackupRetention(items, { keepDaily: 20 }, { now });
  assert.equal(utc.keep.length, 9);
  assert.ok(utc.keep.every((id) => id.endsWith("T23")));

  // Sunday 23:30 CEST and Monday 00:30 CEST are one UTC Sunday apart by an hour.
  const week = [
    { id: "mon-0030", time: new Date("2026-03-29T22:30:00Z"), ok: true },
    { id: "sun-2330", time: new Date("2026-03-29T21:30:00Z"), ok: true },
    { id: "prev-sun-2330", time: new Date("2026-03-22T22:30:00Z"), ok: true },
  ];
  const weekly = planBackupRetention(week, { keepWeekly: 2 }, { now, timezone: "Europe/Berlin" });
  assert.deepEqual(weekly.keep, ["mon-0030", "sun-2330"]);
  assert.equal(weekly.verdicts[1]!.reason, "kept by keep_weekly (2026-W13)");
  const weeklyUtc = planBackupRetention(week, { keepWeekly: 2 }, { now });
  assert.deepEqual(weeklyUtc.keep, ["mon-0030", "prev-sun-2330"]);
});

Deno.test("planBackupRetention() tells apart the hour Europe/Berlin repeats in autumn", () => {
  // 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00Z, so 02:30 happens twice.
  const items = [
    { id: "0330-cet", time: new Date("2026-10-25T02:30:00Z"), ok: true },
    { id: "0230-cet", time: new Date("2026-10-25T01:30:00Z"), ok: true },
    { id: "0230-cest", time: new Date("2026-10-25T00:30:00Z"), ok: true },
  ];
  const plan = planBackupRetention(items, { keepHourly: 3 }, {
    now: new Date("2026-10-25T03:00:00Z"),
    timezone: "Europe/Berlin",
  });
  assert.deepEqual(reasons(plan).slice(1), [
    "0230-cet keep keep_hourly: kept by keep_hourly (2026-10-25T02:00+01:00)",
    "0230-cest keep keep_hourly: kept by keep_hourly (2026-10-25T02:00+02:00)",
  ]);
});

Deno.test("planBackupRetention() rejects a zone Intl does not know, naming timezone", () => {
  assert.throws(
    () => planBackupRetention([], { keepDaily: 1 }, { now: new Date(), timezone: "Mars/Olympus" }),
    (error: unknown) =>
      error instanceof RangeError && /"timezone"/.test(error.message) &&
      /"Mars\/Olympus"/.test(error.message),
  );
});

Deno.test("planBackupRetention() rejects zero, negative and fractional counts naming the key", () => {
  const bad: [BackupRetentionPolicy, RegExp][] = [
    [{ keepLast: 0 }, /keep_last is "0"/],
    [{ keepDaily: -1 }, /keep_daily is "-1"/],
    [{ keepHourly: 1.5 }, /keep_hourly/],
    [{ keepWeekly: 0 }, /keep_weekly/],
    [{ keepMonthly: Number.NaN }, /keep_monthly/],
    [{ keepYearly: -3 }, /keep_yearly/],
    [{ keepWithinMs: 0 }, /keep_within/],
    [{ keepWithinMs: -HOUR }, /keep_within/],
  ];
  for (const [policy, message] of bad) {
    assert.throws(() => planBackupRetention([], policy, { now: new Date() }), RangeError);
    assert.throws(() => planBackupRetention([], policy, { now: new Date() }), message);
  }
  assert.throws(
    () =>
      planBackupRetention([], { keep_daily: 7 } as unknown as BackupRetentionPolicy, {
        now: new Date(),
      }),
    new TypeError('Invalid retention policy: unknown key "keep_daily" (did you mean "keepDaily"?)'),
  );
});

// ---- A daemon's 120 days ------------------------------------------------------------------

const POLICY: BackupRetentionPolicy = { keepLast: 4, keepDaily: 7, keepWeekly: 4, keepMonthly: 3 };
const RULE_SUM = 4 + 7 + 4 + 3;
const FAILED = new Set([
  "2026-02-01T00",
  "2026-03-31T18", // March's last backup failed: March is kept by its 12:00 one
  "2026-04-27T00", // all of Monday 27 April failed: keep_daily reaches one day further back
  "2026-04-27T06",
  "2026-04-27T12",
  "2026-04-27T18",
  "2026-04-29T12",
  "2026-04-30T18", // the very last backup failed: kept, nothing newer succeeded
]);

/** One backup every 6 hours from 2026-01-01T00Z for 120 days (480 backups). */
function history(): BackupItem[] {
  const items: BackupItem[] = [];
  for (let i = 0; i < 120 * 4; i++) {
    const time = new Date(Date.parse("2026-01-01T00:00:00Z") + i * 6 * HOUR);
    const id = time.toISOString().slice(0, 13);
    items.push(
      FAILED.has(id) ? { id, time, ok: false, state: "FAILED" } : { id, time, ok: true },
    );
  }
  return items;
}

/** Runs retention daily at 03:00Z from 2 January to 1 May, deleting as planned. */
function simulate(check: (plan: Plan, stored: BackupItem[], now: Date) => void): BackupItem[] {
  const all = history();
  let stored: BackupItem[] = [];
  let next = 0;
  for (let day = 1; day <= 120; day++) {
    const now = new Date(Date.parse("2026-01-01T03:00:00Z") + day * DAY);
    while (next < all.length && all[next]!.time <= now) stored.push(all[next++]!);
    const plan = planBackupRetention(stored, POLICY, { now });
    check(plan, stored, now);
    const deleted = new Set(plan.delete);
    stored = stored.filter((item) => !deleted.has(item.id));
  }
  assert.equal(next, all.length);
  return stored;
}

Deno.test("planBackupRetention() run daily for 120 days keeps the hand-derived set", () => {
  const plans: Plan[] = [];
  const survivors = simulate((plan, stored, now) => {
    plans.push(plan);
    const ok = stored.filter((item) => item.ok).sort((a, b) => b.time.getTime() - a.time.getTime());
    const kept = new Set(plan.keep);
    const keptOk = ok.filter((item) => kept.has(item.id));
    assert.ok(keptOk.length <= RULE_SUM, `${keptOk.length} successes kept on ${now.toISOString()}`);
    assert.ok(kept.has(ok[0]!.id), `newest success ${ok[0]!.id} lost on ${now.toISOString()}`);
    // Only failures with nothing newer that succeeded may stay.
    for (const item of stored) {
      if (!item.ok && kept.has(item.id)) assert.ok(item.time > ok[0]!.time, item.id);
    }
    // Running daily ends where a single run over everything taken so far would: no backup
    // that a later day needs was deleted early.
    const all = history().filter((item) => item.time <= now);
    assert.deepEqual(plan.keep, planBackupRetention(all, POLICY, { now }).keep);
  });
  // Worked out from a calendar: 2026-04-30 is a Thursday in ISO week 18.
  assert.deepEqual(survivors.map((item) => item.id).toReversed(), [
    "2026-04-30T18", // failed, but nothing newer succeeded
    "2026-04-30T12", // newest success; keep_last 1, keep_daily 04-30, W18, April
    "2026-04-30T06", // keep_last 2
    "2026-04-30T00", // keep_last 3
    "2026-04-29T18", // keep_last 4, keep_daily 04-29
    "2026-04-28T18", // keep_daily 04-28 (04-27 has no success)
    "2026-04-26T18", // keep_daily 04-26, keep_weekly W17
    "2026-04-25T18", // keep_daily
    "2026-04-24T18", // keep_daily
    "2026-04-23T18", // keep_daily 7 of 7
    "2026-04-19T18", // keep_weekly W16
    "2026-04-12T18", // keep_weekly W15
    "2026-03-31T12", // keep_monthly March (its 18:00 failed)
    "2026-02-28T18", // keep_monthly February
  ]);
  const last = plans.at(-1)!;
  const verdictOf = (id: string) => last.verdicts.find((v) => v.id === id)!;
  assert.equal(
    verdictOf("2026-04-26T18").reason,
    "kept by keep_daily (2026-04-26), keep_weekly (2026-W17)",
  );
  assert.equal(verdictOf("2026-03-31T12").reason, "kept by keep_monthly (2026-03)");
  assert.equal(verdictOf("2026-04-30T18").rule, "failed-no-newer-success");

  // Deterministic: the whole run again gives the very same plans.
  const again: Plan[] = [];
  simulate((plan) => again.push(plan));
  assert.deepEqual(again, plans);
});
