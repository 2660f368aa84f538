import assert from "node:assert/strict";
import {
  type BackupItem,
  type BackupRetentionPolicy,
  type Plan,
  planBackupRetention,
  planSnapshotRetention,
  type SnapshotRetentionPolicy,
} from "./mod.ts";

const HOUR = 3_600_000;
const ZONES = [
  "UTC",
  "America/New_York",
  "Europe/Berlin",
  "Asia/Kolkata",
  "Australia/Lord_Howe",
  "Pacific/Chatham",
];
const NOT_OK_STATES = ["FAILED", "PARTIAL", "IN_PROGRESS", "INCOMPATIBLE", undefined];

/** mulberry32: a small seeded generator, so a failing seed can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(next: () => number, choices: readonly T[]): T {
  return choices[Math.floor(next() * choices.length)]!;
}

function int(next: () => number, min: number, max: number): number {
  return min + Math.floor(next() * (max - min + 1));
}

function maybe<T>(next: () => number, value: () => T): T | undefined {
  return next() < 0.5 ? value() : undefined;
}

interface World {
  items: BackupItem[];
  now: Date;
  job: string | undefined;
}

function world(next: () => number): World {
  const now = new Date(Date.parse("2026-06-01T00:00:00Z") + int(next, 0, 400) * HOUR);
  const count = int(next, 0, 60);
  // A coarse grid of hours makes equal times likely; a few land after `now` (clock skew).
  const span = int(next, 2, 400 * 24);
  const items: BackupItem[] = [];
  for (let i = 0; i < count; i++) {
    const time = new Date(now.getTime() - int(next, -3, span) * HOUR);
    const ok = next() < 0.75;
    const item: BackupItem = { id: `b${i}`, time, ok };
    const state = ok ? "SUCCESS" : pick(next, NOT_OK_STATES);
    if (state !== undefined) item.state = state;
    const job = pick(next, ["a", "a", "b", undefined]);
    if (job !== undefined) item.job = job;
    items.push(item);
  }
  return { items, now, job: pick(next, ["a", "b", undefined]) };
}

function snapshotPolicy(next: () => number): SnapshotRetentionPolicy {
  const policy: SnapshotRetentionPolicy = {};
  const expire = maybe(next, () => int(next, 1, 200 * 24) * HOUR);
  const min = maybe(next, () => int(next, 1, 10));
  const max = maybe(next, () => int(next, min ?? 1, 20));
  if (expire !== undefined) policy.expireAfterMs = expire;
  if (min !== undefined) policy.minCount = min;
  if (max !== undefined) policy.maxCount = max;
  return policy;
}

function backupPolicy(next: () => number): BackupRetentionPolicy {
  const policy: BackupRetentionPolicy = {};
  const counts = ["keepLast", "keepHourly", "keepDaily", "keepWeekly", "keepMonthly", "keepYearly"];
  for (const key of counts) {
    if (next() < 0.35) policy[key as "keepLast"] = int(next, 1, 10);
  }
  if (next() < 0.3) policy.keepWithinMs = int(next, 1, 60 * 24) * HOUR;
  return policy;
}

function shuffled<T>(next: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The invariants both planners promise; returns the job's successes kept, newest first. */
function checkCommon(plan: Plan, { items, job }: World): BackupItem[] {
  const byId = new Map(items.map((item) => [item.id, item]));
  assert.equal(plan.verdicts.length, items.length);
  assert.deepEqual(new Set(plan.verdicts.map((v) => v.id)), new Set(byId.keys()));
  for (let i = 1; i < plan.verdicts.length; i++) {
    const newer = byId.get(plan.verdicts[i - 1]!.id)!;
    assert.ok(newer.time >= byId.get(plan.verdicts[i]!.id)!.time, "verdicts newest first");
  }
  for (const v of plan.verdicts) {
    assert.ok(
      v.rule.length > 0 && !/\s/.test(v.rule),
      `rule of ${v.id}: ${JSON.stringify(v.rule)}`,
    );
    assert.ok(v.reason.trim().length > 0, `reason of ${v.id}`);
  }
  assert.deepEqual(
    plan.delete,
    plan.verdicts.filter((v) => v.action === "delete").map((v) => v.id),
  );
  assert.deepEqual(plan.keep, plan.verdicts.filter((v) => v.action === "keep").map((v) => v.id));
  const deleted = new Set(plan.delete);
  assert.equal(plan.keep.filter((id) => deleted.has(id)).length, 0, "delete and keep disjoint");
  assert.equal(deleted.size + plan.keep.length, items.length, "delete and keep cover all");

  const own = (item: BackupItem) => job === undefined || item.job === job;
  const ordered = plan.verdicts.map((v) => byId.get(v.id)!);
  const okKept = ordered.filter((item) => own(item) && item.ok && !deleted.has(item.id));
  const newestOk = ordered.find((item) => own(item) && item.ok);
  if (newestOk !== undefined) assert.ok(!deleted.has(newestOk.id), "newest success kept");
  for (const item of ordered) {
    if (!deleted.has(item.id)) continue;
    assert.ok(own(item), `${item.id} of job ${item.job} deleted while planning for ${job}`);
    if (!item.ok) {
      assert.notEqual(item.state?.toUpperCase(), "IN_PROGRESS", `${item.id} in progress`);
      assert.ok(okKept.some((ok) => ok.time > item.time), `${item.id} deleted, nothing newer`);
    }
  }
  return okKept;
}

function survivors(plan: Plan, items: readonly BackupItem[]): BackupItem[] {
  const deleted = new Set(plan.delete);
  return items.filter((item) => !deleted.has(item.id));
}

Deno.test("planSnapshotRetention() keeps its invariants over 200 random histories", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const next = random(seed);
    const w = world(next);
    const policy = snapshotPolicy(next);
    const options = w.job === undefined ? { now: w.now } : { now: w.now, job: w.job };
    try {
      const plan = planSnapshotRetention(w.items, policy, options);
      const okKept = checkCommon(plan, w);
      const okTotal = w.items.filter((i) => i.ok && (w.job === undefined || i.job === w.job));
      assert.ok(okKept.length >= Math.min(policy.minCount ?? 1, okTotal.length), "min_count");
      if (policy.maxCount !== undefined) assert.ok(okKept.length <= policy.maxCount, "max_count");
      if (Object.keys(policy).length === 0) assert.deepEqual(plan.delete, []);
      assert.deepEqual(planSnapshotRetention(shuffled(next, w.items), policy, options), plan);
      const again = planSnapshotRetention(survivors(plan, w.items), policy, options);
      assert.deepEqual(again.delete, [], "a second run deletes nothing more");
    } catch (error) {
      throw new Error(`seed ${seed}, policy ${JSON.stringify(policy)}`, { cause: error });
    }
  }
});

Deno.test("planBackupRetention() keeps its invariants over 200 random histories", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const next = random(seed);
    const w = world(next);
    const policy = backupPolicy(next);
    const timezone = pick(next, ZONES);
    const options = w.job === undefined
      ? { now: w.now, timezone }
      : { now: w.now, timezone, job: w.job };
    try {
      const plan = planBackupRetention(w.items, policy, options);
      const okKept = checkCommon(plan, w);
      if (policy.keepWithinMs === undefined && Object.keys(policy).length > 0) {
        const sum = Object.values(policy).reduce((total: number, n) => total + (n ?? 0), 0);
        assert.ok(okKept.length <= Math.max(1, sum), `${okKept.length} kept, rules sum ${sum}`);
      }
      if (Object.keys(policy).length === 0) assert.deepEqual(plan.delete, []);
      if (policy.keepLast !== undefined) {
        const own = w.items.filter((i) => i.ok && (w.job === undefined || i.job === w.job));
        assert.ok(okKept.length >= Math.min(policy.keepLast, own.length), "keep_last");
      }
      assert.deepEqual(planBackupRetention(shuffled(next, w.items), policy, options), plan);
      const again = planBackupRetention(survivors(plan, w.items), policy, options);
      assert.deepEqual(again.delete, [], "a second run deletes nothing more");
    } catch (error) {
      throw new Error(`seed ${seed}, policy ${JSON.stringify(policy)}, zone ${timezone}`, {
        cause: error,
      });
    }
  }
});
