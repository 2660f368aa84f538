import assert from "node:assert/strict";
import { checkShape, type Path, type Shape, type ShapeIssue } from "./_shape.ts";
import * as v from "./_shape.ts";

const got = (value: unknown, path: Path) =>
  path.at(-1) === "password"
    ? "a secret"
    : typeof value === "number"
    ? String(value)
    : JSON.stringify(value);

function issues<T>(shape: Shape<T>, value: unknown): ShapeIssue[] {
  const result = checkShape(shape, value, got);
  assert.ok(!result.ok, "expected a failure");
  return result.issues;
}

function messages<T>(shape: Shape<T>, value: unknown): string[] {
  return issues(shape, value).map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

function value<T>(shape: Shape<T>, input: unknown): T {
  const result = checkShape(shape, input, got);
  assert.ok(result.ok, result.ok ? "" : JSON.stringify(result.issues));
  return result.value;
}

const job = v.object({
  schedule: v.string().nonEmpty(),
  retries: v.number().whole().atLeast(0).atMost(10).optional(),
  password: v.string().optional(),
  tags: v.list(v.string()).nonEmpty().optional(),
});

Deno.test("an object keeps its keys, leaves absent optional keys out and reports every problem", () => {
  assert.deepEqual(value(job, { schedule: "@daily" }), { schedule: "@daily" });
  assert.ok(!("retries" in value(job, { schedule: "@daily" })));
  assert.deepEqual(messages(job, { retries: 11, tags: [] }), [
    'schedule: missing required key "schedule"',
    "retries: must be at most 10",
    "tags: must not be empty",
  ]);
  assert.deepEqual(messages(job, { schedule: "" }), ["schedule: must not be empty"]);
  assert.deepEqual(messages(job, []), [": expected a mapping, got []"]);
  assert.deepEqual(messages(job, null), [": expected a mapping, got null"]);
});

Deno.test("an unknown key is reported at that key, with the closest known key or the list", () => {
  const [typo] = issues(job, { schedule: "@daily", retires: 2, colour: "red" });
  assert.equal(typo?.key, "retires");
  assert.equal(typo?.message, 'unknown key "retires" (and "colour") (did you mean "retries"?)');
  assert.equal(
    issues(job, { schedule: "@daily", colour: "red" })[0]?.message,
    'unknown key "colour": known keys are schedule, retries, password, tags',
  );
});

Deno.test("a value is shown through the context, so a secret key's value can be hidden", () => {
  assert.deepEqual(messages(job, { schedule: "x", password: 42 }), [
    "password: expected a string, got a secret",
  ]);
});

Deno.test("a union takes the first option that fits, and settles on the one whose type matched", () => {
  const whole = v.union<string | number>([
    v.number(),
    v.string().matches(/^\d+$/, "expected a whole number"),
  ], "expected a whole number").map(Number).pipe(v.number().whole().atMost(5));
  assert.equal(value(whole, "3"), 3);
  assert.equal(value(whole, 4), 4);
  // The string option's type matched: its own message, not the union's.
  assert.deepEqual(messages(whole, "three"), [': expected a whole number, got "three"']);
  assert.deepEqual(messages(whole, 1.5), [": expected a whole number, got 1.5"]);
  assert.deepEqual(messages(whole, "9"), [": must be at most 5"]);
  assert.deepEqual(messages(whole, [1]), [": expected a whole number, got [1]"]);
  // Without a message the union lists what its options take.
  assert.deepEqual(messages(v.union<string | boolean>([v.string(), v.boolean()]), 5), [
    ": expected a string or true or false, got 5",
  ]);
  // A fixed-value option does not count as a type match: the union's message is shown.
  const flag = v.union<boolean>(
    [v.boolean(), v.oneOf(["true", "false"]).map((s) => s === "true")],
    "expected true or false",
  );
  assert.equal(value(flag, "true"), true);
  assert.deepEqual(messages(flag, "yes"), [': expected true or false, got "yes"']);
});

Deno.test("map() turns a thrown error into the issue, at the value's path", () => {
  const port = v.object({
    port: v.string().map((s) => {
      if (!/^\d+$/.test(s)) throw new RangeError(`"${s}" is not a port: write a number`);
      return Number(s);
    }),
  });
  assert.deepEqual(value(port, { port: "80" }), { port: 80 });
  assert.deepEqual(messages(port, { port: "http" }), [
    'port: "http" is not a port: write a number',
  ]);
});

Deno.test("lists and records name each item by index or key", () => {
  const shape = v.record(v.list(v.number().positive()));
  assert.deepEqual(value(shape, { a: [1, 2] }), { a: [1, 2] });
  assert.deepEqual(messages(shape, { a: [1, -1], b: "x" }), [
    "a.1: must be more than 0",
    'b: expected a list, got "x"',
  ]);
  // A key named like an Object.prototype member stays a key.
  const parsed = JSON.parse('{"__proto__": [3]}');
  const out = value(shape, parsed);
  assert.deepEqual(Object.keys(out), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
});

Deno.test("a tagged union picks its option by the tag and names the tags it knows", () => {
  const storage = v.tagged("type", [
    v.object({ type: v.literal("s3"), bucket: v.string() }),
    v.object({ type: v.literal("local"), path: v.string() }),
  ]);
  assert.deepEqual(value(storage, { type: "local", path: "/b" }), { type: "local", path: "/b" });
  assert.deepEqual(messages(storage, { path: "/b" }), [
    'type: missing required key "type": use one of "s3", "local"',
  ]);
  assert.deepEqual(messages(storage, { type: "gcs" }), [
    'type: must be one of "s3", "local", got "gcs"',
  ]);
  assert.deepEqual(
    issues(storage, { type: "local", pth: "/b" }).map((issue) => issue.message),
    ['missing required key "path"', 'unknown key "pth" (did you mean "path"?)'],
  );
});

Deno.test("numbers must be finite; a YAML .inf or .nan is refused", () => {
  assert.deepEqual(messages(v.number(), Infinity), [": expected a number, got Infinity"]);
  assert.deepEqual(messages(v.number(), NaN), [": expected a number, got NaN"]);
});
