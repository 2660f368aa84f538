import assert from "node:assert/strict";
import {
  dateMathWildcard,
  encodeSnapshotName,
  isDateMathName,
  renderNameTemplate,
  validateSnapshotName,
} from "./_names.ts";

const VALID = [
  "nightly",
  "snapcron-backup-2026.11.25-010203",
  "a",
  "x".repeat(255),
  "é".repeat(127), // 254 bytes
  "with.dots_and-dashes",
  "1234",
  "a_b",
  "<nightly-{now/d}>",
  "<x-{now/d{yyyy.MM.dd|+01:00}}>",
  "<logs-{now-1d/d}-{now/H{HH}}>",
  "<snap-{now/M{yyyy.MM|Europe/Paris}}>",
  "<plain>",
  "<a-\\{literal\\}-{now/d}>",
  "<{now/d}-tail>",
  "<q-{now/d{yyyy'w'ww}}>",
];

const INVALID: [string, RegExp][] = [
  ["", /must not be empty/],
  ["Nightly", /must be lowercase/],
  ["night ly", /whitespace/],
  ["tab\there", /whitespace/],
  ["a,b", /must not contain ","/],
  ["a#b", /must not contain "#"/],
  ["a\\b", /must not contain "\\"/],
  ["a/b", /must not contain "\/"/],
  ["a*", /must not contain "\*"/],
  ["a?", /must not contain "\?"/],
  ['a"b', /must not contain """/],
  ["a<b", /must not contain "<"/],
  ["a>b", /must not contain ">"/],
  ["a|b", /must not contain "\|"/],
  ["_all", /must not start with "_" or "-"/],
  ["-x", /must not start with "_" or "-"/],
  [".", /must not be "\." or "\.\."/],
  ["..", /must not be "\." or "\.\."/],
  ["x".repeat(256), /at most 255 bytes, not 256/],
  ["é".repeat(128), /at most 255 bytes, not 256/],
  ["<Nightly-{now/d}>", /static part "Nightly-" must be lowercase/],
  ["<night ly-{now/d}>", /whitespace/],
  ["<_x-{now/d}>", /must not start with "_"/],
  ["<x-{now/d}", /must not contain "\/"/],
  ["<x-{now/d>", /without its "}"/],
  ["<x-}now/d>", /without its "{"/],
  ["<x-{yesterday}>", /date math "\{yesterday\}"/],
  ["<x-{now/q}>", /date math/],
  ["<x-{now/d{MMM}}>", /"MMM"/],
  ["<x-{now/d{EEE}}>", /uses "E"/],
  ["<x-{now/d{yyyy MM}}>", /uses " "/],
  ["<x-{now/d{yyyy|Bad Zone}}>", /time zone/],
  ["<>", /empty name/],
  [`<${"x".repeat(250)}-{now/d}>`, /resolves to about 261 bytes/],
];

Deno.test("validateSnapshotName() accepts valid plain and date-math names", () => {
  for (const name of VALID) {
    assert.doesNotThrow(() => validateSnapshotName(name), `"${name}" should be valid`);
  }
});

Deno.test("validateSnapshotName() rejects invalid names with the reason", () => {
  for (const [name, reason] of INVALID) {
    assert.throws(
      () => validateSnapshotName(name),
      (error: unknown) => {
        assert.ok(error instanceof RangeError, `"${name}": ${String(error)}`);
        assert.match(error.message, /^Invalid snapshot name "/);
        assert.match(error.message, reason, `"${name}"`);
        return true;
      },
      `"${name}" should be invalid`,
    );
  }
});

Deno.test("validateSnapshotName() rejects a value that is not a string", () => {
  assert.throws(() => validateSnapshotName(42 as unknown as string), TypeError);
});

Deno.test("isDateMathName() tells date math from plain names", () => {
  assert.equal(isDateMathName("<nightly-{now/d}>"), true);
  assert.equal(isDateMathName("nightly"), false);
  assert.equal(isDateMathName("<"), false);
});

Deno.test("encodeSnapshotName() percent-encodes every date-math character", () => {
  assert.equal(encodeSnapshotName("nightly-2026.11.25"), "nightly-2026.11.25");
  assert.equal(encodeSnapshotName("<nightly-{now/d}>"), "%3Cnightly-%7Bnow%2Fd%7D%3E");
  // The same encoding the real server took (see the integration test).
  assert.equal(
    encodeSnapshotName("<x-{now/d{yyyy.MM.dd|+01:00}}>"),
    "%3Cx-%7Bnow%2Fd%7Byyyy.MM.dd%7C%2B01%3A00%7D%7D%3E",
  );
  assert.equal(encodeSnapshotName("<a,b>"), "%3Ca%2Cb%3E");
  assert.doesNotMatch(encodeSnapshotName("<x-{now-1d/d{yyyy|+01:00}}>"), /[<>{}/|+:,]/);
});

Deno.test("dateMathWildcard() turns each expression into a wildcard", () => {
  assert.equal(dateMathWildcard("<nightly-{now/d}>"), "nightly-*");
  assert.equal(dateMathWildcard("<a-{now/d}{now/H{HH}}-b>"), "a-*-b");
  assert.equal(dateMathWildcard("<a-\\{x\\}-{now/d}>"), "a-{x}-*");
});

Deno.test("renderNameTemplate() fills the job and UTC date fields", () => {
  const date = new Date("2026-02-03T04:05:06.789Z");
  assert.equal(
    renderNameTemplate("snapcron-{job}-%Y.%m.%d-%H%M%S", date, "nightly"),
    "snapcron-nightly-2026.02.03-040506",
  );
  assert.equal(renderNameTemplate("%y-%j-%s-100%%", date, "x"), "26-034-1770091506-100%");
  // UTC, not the local zone: 23:30 at -05:00 is the next day in UTC.
  assert.equal(
    renderNameTemplate("d-%Y%m%d", new Date("2026-12-31T23:30:00-05:00"), "x"),
    "d-20270101",
  );
});

Deno.test("renderNameTemplate() rejects unknown fields and invalid results", () => {
  const date = new Date("2026-02-03T04:05:06Z");
  assert.throws(
    () => renderNameTemplate("x-%Q", date, "job"),
    /unknown field "%Q" \(use %Y %m %d %H %M %S %y %j %s %% or \{job\}\)/,
  );
  assert.throws(() => renderNameTemplate("x-%", date, "job"), /unknown field "%"/);
  assert.throws(
    () => renderNameTemplate("snap-{job}", date, "Nightly"),
    /renders an invalid name: Invalid snapshot name "snap-Nightly": must be lowercase/,
  );
  assert.throws(() => renderNameTemplate("{job}", date, "_x"), /must not start with "_"/);
  assert.throws(() => renderNameTemplate("x", new Date(NaN), "j"), /invalid date/);
});
