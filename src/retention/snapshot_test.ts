import assert from "node:assert/strict";
import { type BackupItem, planSnapshotRetention, type SnapshotRetentionPolicy } from "./mod.ts";

const DAY = 86_400_000;
const NOW = new Date("2026-03-31T12:00:00Z");
const STATES: Record<string, string> = {
  S: "SUCCESS",
  F: "FAILED",
  P: "PARTIAL",
  R: "IN_PROGRESS",
  I: "INCOMPATIBLE",
};

/**
 * Items written as "<age in days><state>[@job]", e.g. "3S" (a SUCCESS 3 days before NOW),
 * "40F@other"; the id is "snap-<age>".
 */
function snaps(spec: string): BackupItem[] {
  return spec.split(" ").map((word) => {
    const match = /^(\d+(?:\.\d+)?)([SFPRI])(?:@(.+))?$/.exec(word);
    if (match === null) throw new SyntaxError(`Bad item spec ${JSON.stringify(word)}`);
    const state = STATES[match[2]!]!;
    const item: BackupItem = {
      id: `snap-${match[1]}`,
      time: new Date(NOW.getTime() - Number(match[1]) * DAY),
      ok: state === "SUCCESS",
      state,
    };
    if (match[3] !== undefined) item.job = match[3];
    return item;
  });
}

/** Verdicts as "+rule" (keep) or "-rule" (delete), newest first. */
function outcome(plan: { verdicts: { action: string; rule: string }[] }): string {
  return plan.verdicts.map((v) => `${v.action === "keep" ? "+" : "-"}${v.rule}`).join(" ");
}

interface Case {
  name: string;
  policy: SnapshotRetentionPolicy;
  job?: string;
  items: string;
  expect: string;
}

const EXPIRE_30D = { expireAfterMs: 30 * DAY };

// Each expectation was worked out by hand from the rules, newest item first.
const CASES: Case[] = [
  {
    name: "expire_after deletes successes strictly older than the limit",
    policy: EXPIRE_30D,
    items: "1S 10S 30S 31S 40S",
    expect: "+newest-success +expire_after +expire_after -expire_after -expire_after",
  },
  {
    name: "min_count protects expired successes, newest first",
    policy: { ...EXPIRE_30D, minCount: 3 },
    items: "1S 35S 40S 45S 50S",
    expect: "+newest-success +min_count +min_count -expire_after -expire_after",
  },
  {
    name: "min_count counts only successes",
    policy: { ...EXPIRE_30D, minCount: 3 },
    items: "1S 2F 35S 36F 40S 45S",
    expect:
      "+newest-success -failed-superseded +min_count -failed-superseded +min_count -expire_after",
  },
  {
    name: "min_count does not need to protect what has not expired",
    policy: { ...EXPIRE_30D, minCount: 2 },
    items: "1S 2S 3S 31S",
    expect: "+newest-success +expire_after +expire_after -expire_after",
  },
  {
    name: "max_count cuts the oldest even when not expired",
    policy: { ...EXPIRE_30D, maxCount: 3 },
    items: "1S 2S 3S 4S 5S",
    expect: "+newest-success +expire_after +expire_after -max_count -max_count",
  },
  {
    name: "max_count counts only successes",
    policy: { maxCount: 2 },
    items: "1S 2F 3S 4F 5S",
    expect: "+newest-success -failed-superseded +max_count -failed-superseded -max_count",
  },
  {
    name: "max_count never cuts below min_count",
    policy: { minCount: 3, maxCount: 3, ...EXPIRE_30D },
    items: "1S 40S 41S 42S 43S",
    expect: "+newest-success +min_count +min_count -expire_after -expire_after",
  },
  {
    name: "max_count and min_count together without expire_after",
    policy: { minCount: 2, maxCount: 3 },
    items: "1S 50S 60S 70S",
    expect: "+newest-success +max_count +max_count -max_count",
  },
  {
    name: "the newest success survives when everything expired and min_count is unset",
    policy: EXPIRE_30D,
    items: "40S 50S 60S",
    expect: "+newest-success -expire_after -expire_after",
  },
  {
    name: "the newest success survives max_count 1 and expiry together",
    policy: { ...EXPIRE_30D, maxCount: 1 },
    items: "40F 45S 50S",
    expect: "+failed-no-newer-success +newest-success -expire_after",
  },
  {
    name: "failures newer than every success are kept, older ones deleted",
    policy: EXPIRE_30D,
    items: "1F 2P 3R 5S 6F 7P",
    expect:
      "+failed-no-newer-success +failed-no-newer-success +in-progress +newest-success -failed-superseded -failed-superseded",
  },
  {
    name: "failures are cleaned up without waiting for expire_after",
    policy: EXPIRE_30D,
    items: "1S 2F",
    expect: "+newest-success -failed-superseded",
  },
  {
    name: "IN_PROGRESS is never deleted, however old",
    policy: { ...EXPIRE_30D, maxCount: 1 },
    items: "1S 2R 40R",
    expect: "+newest-success +in-progress +in-progress",
  },
  {
    name: "with no success at all every failure is kept",
    policy: { expireAfterMs: DAY, maxCount: 1 },
    items: "3F 4P 50F",
    expect: "+failed-no-newer-success +failed-no-newer-success +failed-no-newer-success",
  },
  {
    name: "other jobs' and untagged snapshots are untouched and do not count",
    policy: { ...EXPIRE_30D, maxCount: 2 },
    job: "nightly",
    items: "1S@other 2S@nightly 3S@nightly 4F@nightly 5S 40S@other 41F@other 42S@nightly",
    expect:
      "+not-this-job +newest-success +expire_after -failed-superseded +not-this-job +not-this-job +not-this-job -expire_after",
  },
  {
    name: "another job's newer success does not supersede this job's failure",
    policy: EXPIRE_30D,
    job: "nightly",
    items: "1S@other 2F@nightly 3S@nightly",
    expect: "+not-this-job +failed-no-newer-success +newest-success",
  },
  {
    name: "without the job option every item counts",
    policy: EXPIRE_30D,
    items: "1S@a 40S@b",
    expect: "+newest-success -expire_after",
  },
  {
    name: "an empty policy keeps everything",
    policy: {},
    items: "1S 2F 40S 50P",
    expect: "+no-policy +no-policy +no-policy +no-policy",
  },
  {
    name: "an empty policy still leaves other jobs to them",
    policy: {},
    job: "a",
    items: "1S@b 2S@a",
    expect: "+not-this-job +no-policy",
  },
  {
    name: "min_count alone deletes no success but cleans superseded failures",
    policy: { minCount: 2 },
    items: "1S 2F 40S 50S",
    expect: "+newest-success -failed-superseded +min_count +min_count",
  },
  {
    name: "unknown unsuccessful states are left alone",
    policy: EXPIRE_30D,
    items: "1S 2I 40I",
    expect: "+newest-success +unknown-state +unknown-state",
  },
];

for (const c of CASES) {
  Deno.test(`planSnapshotRetention() ${c.name}`, () => {
    const options = c.job === undefined ? { now: NOW } : { now: NOW, job: c.job };
    const plan = planSnapshotRetention(snaps(c.items), c.policy, options);
    assert.equal(outcome(plan), c.expect);
  });
}

Deno.test("planSnapshotRetention() explains each verdict with its numbers", () => {
  const items = snaps("1S 2F 35S 40S 45S 50S");
  const plan = planSnapshotRetention(items, { ...EXPIRE_30D, minCount: 3, maxCount: 4 }, {
    now: NOW,
  });
  assert.deepEqual(plan.verdicts.map((v) => `${v.id} ${v.action} ${v.rule}: ${v.reason}`), [
    "snap-1 keep newest-success: the newest successful snapshot is always kept",
    'snap-2 delete failed-superseded: state "FAILED", superseded by the newer successful snapshot "snap-1"',
    "snap-35 keep min_count: expired (35d old, expire_after 30d) but kept by min_count: number 2 of 5 successful snapshots, and the 3 newest are always kept",
    "snap-40 keep min_count: expired (40d old, expire_after 30d) but kept by min_count: number 3 of 5 successful snapshots, and the 3 newest are always kept",
    "snap-45 delete expire_after: expired: 45d old, older than expire_after 30d",
    "snap-50 delete expire_after: expired: 50d old, older than expire_after 30d; also beyond max_count 4",
  ]);
  assert.deepEqual(plan.delete, ["snap-2", "snap-45", "snap-50"]);
  assert.deepEqual(plan.keep, ["snap-1", "snap-35", "snap-40"]);
});

Deno.test("planSnapshotRetention() names a kept success as the one that supersedes a failure", () => {
  // snap-2 is cut by max_count, so it cannot be what makes snap-3 redundant.
  const plan = planSnapshotRetention(snaps("1S 2S 3F"), { maxCount: 1 }, { now: NOW });
  assert.equal(outcome(plan), "+newest-success -max_count -failed-superseded");
  assert.match(plan.verdicts[2]!.reason, /"snap-1"/);
});

Deno.test("planSnapshotRetention() does not let a success supersede a failure of the same instant", () => {
  const time = new Date("2026-03-30T02:00:00Z");
  const items: BackupItem[] = [
    { id: "a", time, ok: false, state: "FAILED" },
    { id: "b", time, ok: true, state: "SUCCESS" },
    { id: "c", time: new Date("2026-03-29T02:00:00Z"), ok: false, state: "PARTIAL" },
  ];
  const plan = planSnapshotRetention(items, EXPIRE_30D, { now: NOW });
  assert.deepEqual(plan.verdicts.map((v) => `${v.id} ${v.rule}`), [
    "b newest-success",
    "a failed-no-newer-success",
    "c failed-superseded",
  ]);
});

Deno.test("planSnapshotRetention() orders newest first whatever the input order", () => {
  const items = snaps("40S 1S 3F 2S 35S");
  const policy = { ...EXPIRE_30D, minCount: 2 };
  const plan = planSnapshotRetention(items, policy, { now: NOW });
  assert.deepEqual(plan.verdicts.map((v) => v.id), [
    "snap-1",
    "snap-2",
    "snap-3",
    "snap-35",
    "snap-40",
  ]);
  assert.deepEqual(planSnapshotRetention(items.toReversed(), policy, { now: NOW }), plan);
});

Deno.test("planSnapshotRetention() treats state words case-insensitively and trusts ok", () => {
  const items: BackupItem[] = [
    { id: "a", time: new Date("2026-03-30T00:00:00Z"), ok: false, state: "in_progress" },
    { id: "b", time: new Date("2026-03-29T00:00:00Z"), ok: true, state: "whatever" },
    { id: "c", time: new Date("2026-03-28T00:00:00Z"), ok: false, state: "failed" },
    { id: "d", time: new Date("2026-03-27T00:00:00Z"), ok: false },
  ];
  const plan = planSnapshotRetention(items, EXPIRE_30D, { now: NOW });
  assert.equal(outcome(plan), "+in-progress +newest-success -failed-superseded -failed-superseded");
  assert.match(plan.verdicts[3]!.reason, /^not successful, superseded/);
});

Deno.test("planSnapshotRetention() with no items plans nothing", () => {
  assert.deepEqual(planSnapshotRetention([], EXPIRE_30D, { now: NOW }), {
    verdicts: [],
    delete: [],
    keep: [],
  });
});

Deno.test("planSnapshotRetention() rejects min_count above max_count naming both", () => {
  assert.throws(
    () => planSnapshotRetention([], { minCount: 5, maxCount: 3 }, { now: NOW }),
    (error: unknown) =>
      error instanceof RangeError && /min_count is 5/.test(error.message) &&
      /max_count is 3/.test(error.message),
  );
});

Deno.test("planSnapshotRetention() rejects counts below 1 and bad durations naming the key", () => {
  const bad: [SnapshotRetentionPolicy, RegExp][] = [
    [{ minCount: 0 }, /min_count is "0"/],
    [{ maxCount: -1 }, /max_count is "-1"/],
    [{ maxCount: 2.5 }, /max_count is "2.5"/],
    [{ minCount: Number.NaN }, /min_count/],
    [{ expireAfterMs: 0 }, /expire_after is "0ms"/],
    [{ expireAfterMs: -DAY }, /expire_after/],
    [{ expireAfterMs: Number.POSITIVE_INFINITY }, /expire_after/],
  ];
  for (const [policy, message] of bad) {
    assert.throws(() => planSnapshotRetention([], policy, { now: NOW }), RangeError);
    assert.throws(() => planSnapshotRetention([], policy, { now: NOW }), message);
  }
});

Deno.test("planSnapshotRetention() rejects config-style keys instead of ignoring them", () => {
  const policy = { min_count: 5, expireAfterMs: DAY } as unknown as SnapshotRetentionPolicy;
  assert.throws(
    () => planSnapshotRetention(snaps("1S 2S"), policy, { now: NOW }),
    new TypeError('Invalid retention policy: unknown key "min_count" (did you mean "minCount"?)'),
  );
});

Deno.test("planSnapshotRetention() rejects duplicate ids, invalid times and an invalid now", () => {
  const time = new Date("2026-03-01T00:00:00Z");
  assert.throws(
    () =>
      planSnapshotRetention([{ id: "a", time, ok: true }, { id: "a", time, ok: false }], {}, {
        now: NOW,
      }),
    /Duplicate backup id "a"/,
  );
  assert.throws(
    () => planSnapshotRetention([{ id: "a", time: new Date("nope"), ok: true }], {}, { now: NOW }),
    RangeError,
  );
  assert.throws(() => planSnapshotRetention([], {}, { now: new Date(Number.NaN) }), /"now"/);
});
