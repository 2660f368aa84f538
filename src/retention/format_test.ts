import assert from "node:assert/strict";
import { type BackupItem, formatPlan, type Plan, planSnapshotRetention } from "./mod.ts";

Deno.test("formatPlan() prints aligned KEEP and DELETE lines newest first and a summary", () => {
  const items: BackupItem[] = [
    { id: "nightly-2026.02.01", time: new Date("2026-02-01T02:00:00Z"), ok: true },
    { id: "nightly-2026.03.01", time: new Date("2026-03-01T02:00:00.250Z"), ok: true },
    { id: "n-2026.02.28", time: new Date("2026-02-28T02:00:00Z"), ok: false, state: "FAILED" },
  ];
  const plan = planSnapshotRetention(items, { expireAfterMs: 14 * 86_400_000 }, {
    now: new Date("2026-03-01T12:00:00Z"),
  });
  assert.deepEqual(formatPlan(plan, items), [
    "KEEP   2026-03-01T02:00:00Z  nightly-2026.03.01  newest-success: the newest successful snapshot is always kept",
    'DELETE 2026-02-28T02:00:00Z  n-2026.02.28        failed-superseded: state "FAILED", superseded by the newer successful snapshot "nightly-2026.03.01"',
    "DELETE 2026-02-01T02:00:00Z  nightly-2026.02.01  expire_after: expired: 28d10h old, older than expire_after 14d",
    "2 to delete, 1 to keep",
  ]);
});

Deno.test("formatPlan() of an empty plan is just the summary", () => {
  assert.deepEqual(formatPlan({ verdicts: [], delete: [], keep: [] }, []), [
    "0 to delete, 0 to keep",
  ]);
});

Deno.test("formatPlan() rejects a plan made from other items", () => {
  const plan: Plan = {
    verdicts: [{ id: "x", action: "keep", rule: "no-policy", reason: "nothing is set" }],
    delete: [],
    keep: ["x"],
  };
  assert.throws(() => formatPlan(plan, []), /no backup with id "x"/);
});
