import assert from "node:assert/strict";
import { formatOffset, isTimeZone, loadTimeZone, TimeZone } from "./_zone.ts";

const HOUR = 3_600_000;

Deno.test("TimeZone finds Berlin's 2026 transitions to the second", () => {
  const berlin = new TimeZone("Europe/Berlin");
  const spring = Date.UTC(2026, 2, 29, 1);
  const autumn = Date.UTC(2026, 9, 25, 1);
  assert.deepEqual(berlin.nextTransition(Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1)), {
    at: spring,
    before: HOUR,
    after: 2 * HOUR,
  });
  assert.deepEqual(berlin.nextTransition(spring, Date.UTC(2027, 0, 1)), {
    at: autumn,
    before: 2 * HOUR,
    after: HOUR,
  });
  assert.equal(berlin.nextTransition(spring, autumn - 1_000), undefined);
  assert.equal(berlin.offsetAt(spring - 1_000), HOUR);
  assert.equal(berlin.offsetAt(spring), 2 * HOUR);
  assert.equal(berlin.offsetAt(autumn - 1_000), 2 * HOUR);
  assert.equal(berlin.offsetAt(autumn), HOUR);
  assert.equal(berlin.lastTransition(autumn + HOUR)?.at, autumn);
  assert.equal(berlin.lastTransition(autumn - 1)?.at, spring);
});

Deno.test("TimeZone finds a change of a whole day", () => {
  // Samoa skipped all of 2011-12-30, moving from UTC-10 to UTC+14 at 10:00Z: a gap of a day.
  const apia = new TimeZone("Pacific/Apia");
  const skip = Date.UTC(2011, 11, 30, 10);
  const change = apia.nextTransition(Date.UTC(2011, 11, 1), Date.UTC(2012, 0, 2));
  assert.ok(change !== undefined);
  assert.equal(change.at, skip);
  assert.equal(change.after - change.before, 24 * HOUR);
});

Deno.test("TimeZone treats UTC and Etc zones as fixed", () => {
  const utc = new TimeZone("UTC");
  assert.ok(utc.fixed);
  assert.equal(utc.offsetAt(Date.UTC(2026, 5, 1)), 0);
  assert.equal(utc.nextTransition(0, Date.UTC(2030, 0, 1)), undefined);
  const plus3 = new TimeZone("Etc/GMT-3");
  assert.ok(plus3.fixed);
  assert.equal(plus3.offsetAt(0), 3 * HOUR);
  assert.ok(!new TimeZone("Europe/Berlin").fixed);
});

Deno.test("TimeZone rejects an unknown zone, naming it", () => {
  assert.throws(() => new TimeZone("Mars/Olympus"), {
    name: "RangeError",
    message: 'Unknown time zone "Mars/Olympus": use an IANA name such as "Europe/Berlin" or "UTC"',
  });
});

Deno.test("loadTimeZone() shares one TimeZone per name", () => {
  assert.equal(loadTimeZone("Asia/Tokyo"), loadTimeZone("Asia/Tokyo"));
  assert.equal(loadTimeZone("Asia/Tokyo").name, "Asia/Tokyo");
});

Deno.test("formatOffset() writes UTC+hh:mm", () => {
  assert.equal(formatOffset(2 * HOUR), "UTC+02:00");
  assert.equal(formatOffset(-4 * HOUR), "UTC-04:00");
  assert.equal(formatOffset(5.5 * HOUR), "UTC+05:30");
  assert.equal(formatOffset(0), "UTC+00:00");
});

Deno.test("UTC by any of its names is fixed at 0, and every such name is one Intl knows", () => {
  const names = ["UTC", "utc", "Etc/UTC", "GMT", "Etc/GMT", "UCT", "Etc/UCT", "Universal", "Zulu"];
  for (const name of names) {
    // The shortcut skips Intl; it must not accept a name that Intl would refuse.
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    const zone = new TimeZone(name);
    assert.ok(zone.fixed, name);
    assert.equal(zone.offsetAt(Date.UTC(2026, 6, 1, 12)), 0, name);
    assert.equal(zone.name, name);
  }
});

Deno.test("isTimeZone() knows IANA names and UTC, and refuses the rest", () => {
  assert.ok(isTimeZone("Europe/Berlin"));
  assert.ok(isTimeZone("UTC"));
  assert.ok(!isTimeZone("Mars/Olympus"));
  assert.ok(!isTimeZone("UTC/Etc"));
  assert.ok(!isTimeZone(""));
});
