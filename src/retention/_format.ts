// The dry-run listing: the same plan the real run executes, printed.

import type { BackupItem, Plan } from "./_types.ts";

/**
 * Formats a plan as aligned lines, newest first, e.g.
 * `KEEP   2026-03-01T02:00:00Z  nightly-2026.03.01  newest-success: …`, then a summary line
 * `3 to delete, 12 to keep`.
 */
export function formatPlan(plan: Plan, items: readonly BackupItem[]): string[] {
  const times = new Map(items.map((item) => [item.id, item.time]));
  const width = Math.max(0, ...plan.verdicts.map((v) => v.id.length));
  const lines = plan.verdicts.map((v) => {
    const time = times.get(v.id);
    if (time === undefined) {
      throw new RangeError(
        `Cannot format retention plan: no backup with id ${
          JSON.stringify(v.id)
        } among the items (pass the items the plan was made from)`,
      );
    }
    const action = v.action === "delete" ? "DELETE" : "KEEP";
    return `${action.padEnd(6)} ${isoSeconds(time)}  ${v.id.padEnd(width)}  ${v.rule}: ${v.reason}`;
  });
  lines.push(`${plan.delete.length} to delete, ${plan.keep.length} to keep`);
  return lines;
}

// Whole seconds keep the column a fixed width.
function isoSeconds(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, "Z");
}
