import assert from "node:assert/strict";
import { DAY_OF_MONTH, DAY_OF_WEEK, HOUR, MONTH, parseField, SECOND, ValueSet } from "./_fields.ts";

const v3 = { expression: "test", starRule: "v3" } as const;
const v1 = { expression: "test", starRule: "v1" } as const;

Deno.test("parseField() expands steps from a start to the field's maximum", () => {
  assert.deepEqual(parseField("0/10", SECOND, v3).values(), [0, 10, 20, 30, 40, 50]);
  assert.deepEqual(parseField("3/4", MONTH, v3).values(), [3, 7, 11]);
  assert.deepEqual(parseField("*/7", DAY_OF_MONTH, v3).values(), [1, 8, 15, 22, 29]);
  assert.deepEqual(parseField("8-20/3", HOUR, v3).values(), [8, 11, 14, 17, 20]);
  assert.deepEqual(parseField("*/100", SECOND, v3).values(), [0]);
});

Deno.test("parseField() reads names, lists and ? like robfig/cron", () => {
  assert.deepEqual(parseField("mon-FRI", DAY_OF_WEEK, v3).values(), [1, 2, 3, 4, 5]);
  assert.deepEqual(parseField("SUN,sat", DAY_OF_WEEK, v3).values(), [0, 6]);
  assert.deepEqual(parseField("MON/2", DAY_OF_WEEK, v3).values(), [1, 3, 5]);
  assert.deepEqual(parseField("jan,Dec", MONTH, v3).values(), [1, 12]);
  assert.deepEqual(parseField("?", DAY_OF_MONTH, v3).values().length, 31);
  assert.deepEqual(parseField("1,5,1", HOUR, v3).values(), [1, 5]);
});

Deno.test("parseField() marks stars as robfig/cron v3 and v1 did", () => {
  assert.ok(parseField("*", DAY_OF_MONTH, v3).star);
  assert.ok(parseField("?", DAY_OF_MONTH, v3).star);
  assert.ok(parseField("*/1", DAY_OF_MONTH, v3).star);
  assert.ok(!parseField("*/2", DAY_OF_MONTH, v3).star);
  assert.ok(parseField("*/2", DAY_OF_MONTH, v1).star);
  assert.ok(parseField("1,*", DAY_OF_WEEK, v3).star);
  assert.ok(!parseField("1-31", DAY_OF_MONTH, v3).star);
});

Deno.test("ValueSet finds the next allowed value", () => {
  const set = new ValueSet(SECOND, [5, 30]);
  assert.equal(set.nextFrom(0), 5);
  assert.equal(set.nextFrom(5), 5);
  assert.equal(set.nextFrom(6), 30);
  assert.equal(set.nextFrom(31), undefined);
  assert.equal(set.nextFrom(60), undefined);
  assert.ok(set.has(30) && !set.has(29) && !set.has(60));
  assert.ok(!set.full);
  assert.ok(new ValueSet(HOUR, Array.from({ length: 24 }, (_, h) => h)).full);
  assert.equal(new ValueSet(DAY_OF_MONTH, [3]).nextFrom(0), 3);
});
