import assert from "node:assert/strict";
import { parseFlags, UsageError } from "./_common.ts";

const OPTIONS = {
  config: { type: "string", short: "c" },
  "dry-run": { type: "boolean", short: "n" },
  help: { type: "boolean", short: "h" },
} as const;

const parse = (...args: string[]) => parseFlags("test", args, OPTIONS);

function problem(...args: string[]): string {
  try {
    parse(...args);
  } catch (error) {
    assert.ok(error instanceof UsageError);
    assert.equal(error.command, "test");
    return error.message;
  }
  throw new Error("no UsageError");
}

Deno.test("parseFlags() reads long, short, grouped and inline forms", () => {
  assert.deepEqual(parse("--config", "a.yaml", "job"), {
    values: { config: "a.yaml" },
    positionals: ["job"],
  });
  assert.deepEqual(parse("--config=b.yaml").values, { config: "b.yaml" });
  assert.deepEqual(parse("--config=").values, { config: "" });
  assert.deepEqual(parse("-c", "c.yaml").values, { config: "c.yaml" });
  assert.deepEqual(parse("-cd.yaml").values, { config: "d.yaml" });
  assert.deepEqual(parse("-nh").values, { "dry-run": true, help: true });
  assert.deepEqual(parse("-nc", "e.yaml").values, { "dry-run": true, config: "e.yaml" });
  // The last of a repeated flag wins; "-" alone is an argument, also as a value.
  assert.deepEqual(parse("-c", "a", "--config", "-").values, { config: "-" });
  assert.deepEqual(parse("-").positionals, ["-"]);
  // After "--", everything is an argument.
  assert.deepEqual(parse("a", "--", "--help", "-n").positionals, ["a", "--help", "-n"]);
  assert.equal(parse("a").values.help, undefined);
});

Deno.test("parseFlags() names the flag and the fix for each problem", () => {
  assert.equal(problem("--confg", "x"), 'Unknown flag "--confg" (did you mean "--config"?)');
  assert.equal(problem("--colour"), 'Unknown flag "--colour": use --config, --dry-run, --help');
  assert.equal(problem("-x"), 'Unknown flag "-x": use --config, --dry-run, --help');
  assert.equal(problem("-nx"), 'Unknown flag "-x": use --config, --dry-run, --help');
  assert.equal(problem("--config"), 'Flag "--config" needs a value');
  assert.equal(problem("-c"), 'Flag "-c" needs a value');
  assert.equal(
    problem("-c", "--help"),
    'Flag "-c" needs a value, but the next argument is a flag: ' +
      'write --config=VALUE when the value starts with "-"',
  );
  assert.equal(problem("--help=yes"), 'Flag "--help" takes no value');
  assert.throws(() => parseFlags("validate", ["stray"], OPTIONS, false), {
    message: 'Unexpected argument "stray": snapcron validate takes flags only',
  });
  // A name inherited from Object.prototype is not a flag.
  assert.equal(
    problem("--constructor"),
    'Unknown flag "--constructor": use --config, --dry-run, --help',
  );
});
