import assert from "node:assert/strict";
import { parseGoDuration } from "./mod.ts";

Deno.test("parseGoDuration() reads Go's units and combinations", () => {
  assert.equal(parseGoDuration("90s"), 90_000);
  assert.equal(parseGoDuration("1h30m"), 5_400_000);
  assert.equal(parseGoDuration("2h45m10s"), 9_910_000);
  assert.equal(parseGoDuration("300ms"), 300);
  assert.equal(parseGoDuration("1m1m"), 120_000);
  assert.equal(parseGoDuration("1500us"), 1.5);
  assert.equal(parseGoDuration("1\u00b5s"), 0.001);
  assert.equal(parseGoDuration("1\u03bcs"), 0.001);
  assert.equal(parseGoDuration("250ns"), 0.00025);
});

Deno.test("parseGoDuration() reads fractions, signs and a bare 0", () => {
  assert.equal(parseGoDuration("1.5h"), 5_400_000);
  assert.equal(parseGoDuration(".5s"), 500);
  assert.equal(parseGoDuration("5.s"), 5_000);
  assert.equal(parseGoDuration("1.0000000001s"), 1_000);
  assert.equal(parseGoDuration("0"), 0);
  assert.equal(parseGoDuration("-0"), 0);
  assert.equal(parseGoDuration("+5s"), 5_000);
  assert.equal(parseGoDuration("-1m30s"), -90_000);
  assert.equal(parseGoDuration("2562047h"), 9_223_369_200_000);
});

for (
  const [text, fragment] of [
    ["", 'Invalid duration "": the text is empty'],
    ["-", "a number must follow the sign"],
    ["10", 'Invalid duration "10": missing unit after 10 (for example "10s")'],
    ["1h30", "missing unit after 30"],
    ["10x", 'unknown unit "x" (use ns, us, ms, s, m or h)'],
    ["1 h", 'unknown unit " h"'],
    ["1H", 'unknown unit "H"'],
    ["1d", 'unknown unit "d"'],
    [".s", "a number has no digits"],
    ["s", 'expected a number at "s"'],
    ["1.2.3s", "missing unit after 1.2"],
    ["2562048h", "out of range"],
    ["9223372036854775808ns", "out of range"],
  ] as const
) {
  Deno.test(`parseGoDuration() rejects ${JSON.stringify(text)}`, () => {
    assert.throws(() => parseGoDuration(text), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.ok(error.message.includes(fragment), error.message);
      return true;
    });
  });
}

Deno.test("parseGoDuration() accepts Go's most negative duration but not its opposite", () => {
  assert.equal(parseGoDuration("-9223372036854775808ns"), -9_223_372_036_854.775);
  assert.throws(() => parseGoDuration("9223372036854775808ns"), RangeError);
});
