import assert from "node:assert/strict";
import { calendarIn, isoWeek } from "./_calendar.ts";

Deno.test("isoWeek() follows ISO 8601 at year ends", () => {
  assert.equal(isoWeek(2026, 1, 1), "2026-W01"); // a Thursday
  assert.equal(isoWeek(2025, 12, 29), "2026-W01"); // its Monday
  assert.equal(isoWeek(2025, 12, 28), "2025-W52");
  assert.equal(isoWeek(2021, 1, 3), "2020-W53"); // a Sunday in 2020's 53rd week
  assert.equal(isoWeek(2024, 12, 30), "2025-W01");
  assert.equal(isoWeek(2026, 3, 29), "2026-W13");
  assert.equal(isoWeek(2026, 3, 30), "2026-W14");
});

Deno.test("calendarIn() labels buckets in the zone's wall clock", () => {
  const utc = calendarIn("UTC");
  assert.deepEqual(utc(new Date("2026-03-01T02:30:00Z")), {
    hour: "2026-03-01T02:00Z",
    day: "2026-03-01",
    week: "2026-W09",
    month: "2026-03",
    year: "2026",
  });
  const ny = calendarIn("America/New_York");
  assert.deepEqual(ny(new Date("2026-01-01T03:00:00Z")), {
    hour: "2025-12-31T22:00-05:00",
    day: "2025-12-31",
    week: "2026-W01",
    month: "2025-12",
    year: "2025",
  });
  assert.equal(
    calendarIn("Asia/Kolkata")(new Date("2026-03-01T00:00:00Z")).hour,
    "2026-03-01T05:00+05:30",
  );
});

Deno.test("calendarIn() rejects an unknown zone", () => {
  assert.throws(() => calendarIn("Nowhere/Town"), RangeError);
});
