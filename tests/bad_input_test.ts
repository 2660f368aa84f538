/**
 * Broken configs and command lines, each checked as a user sees it: exit code 2 and one line
 * per problem that says where it is and how to fix it. The configs live in `tests/bad_input/`
 * (each starts with `# deno-fmt-ignore-file`, so line numbers count from that comment); adding
 * a case is adding a file there and a line to {@linkcode CONFIGS}.
 */
import assert from "node:assert/strict";
import { type CliResult, snapcron, tempConfig } from "./_cli.ts";

const CORPUS = "tests/bad_input";

/** What a broken config's message must say after `Cannot load config "FILE": `. */
interface ConfigCase {
  message: RegExp;
  /** Lines of output: one per problem. */
  lines?: number;
  /** A value from the file that must never be shown. */
  secret?: string;
}

const CONFIGS: Record<string, RegExp | ConfigCase> = {
  // Files without content have no place to point at.
  "01-empty.yaml": /^the file is empty: add a "jobs" section$/,
  "02-comments-only.yaml": /^the file is empty: add a "jobs" section$/,
  // Wrong types
  "03-command-string.yaml":
    /^line 5, column 14: jobs\.nightly\.command: expected a list, got "\/usr\/local\/bin\/backup --all"$/,
  "04-jobs-list.yaml": /^line 3, column 3: jobs: expected a mapping, got a list$/,
  "05-env-list.yaml": /^line 6, column 10: jobs\.nightly\.env: expected a mapping, got a list$/,
  "06-retries-word.yaml":
    /^line 6, column 14: jobs\.nightly\.retries: expected a whole number, got "three"$/,
  "07-schedule-number.yaml":
    /^line 4, column 15: jobs\.nightly\.schedule: expected a string, got number 5$/,
  "08-bool-yes.yaml":
    /^line 6, column 19: jobs\.nightly\.run_on_start: expected true or false, got "yes"$/,
  "09-dogstatsd-port-word.yaml":
    /^line 4, column 9: dogstatsd\.port: expected a whole number, got "statsd"$/,
  // Unknown keys, at every level
  "10-unknown-top.yaml":
    /^line 2, column 1: unknown key "shutdown_grase" \(did you mean "shutdown_grace"\?\)$/,
  "11-unknown-status.yaml":
    /^line 3, column 3: status: unknown key "listn" \(did you mean "listen"\?\)$/,
  "12-unknown-log.yaml": /^line 3, column 3: log: unknown key "levle" \(did you mean "level"\?\)$/,
  "13-unknown-dogstatsd.yaml":
    /^line 3, column 3: dogstatsd: unknown key "prot" \(did you mean "port"\?\)$/,
  "14-unknown-storage.yaml":
    /^line 5, column 5: storage\.backups: unknown key "pth" \(did you mean "path"\?\)$/,
  "15-unknown-job.yaml":
    /^line 6, column 5: jobs\.nightly: unknown key "timout" \(did you mean "timeout"\?\)$/,
  "16-unknown-etcd.yaml":
    /^line 8, column 7: jobs\.etcd\.etcd: unknown key "endpoint" \(did you mean "endpoints"\?\)$/,
  "17-unknown-elasticsearch.yaml":
    /^line 6, column 7: jobs\.es\.elasticsearch: unknown key "url" \(did you mean "urls"\?\)$/,
  "18-unknown-repository.yaml":
    /^line 10, column 9: jobs\.es\.elasticsearch\.repository: unknown key "setings" \(did you mean "settings"\?\)$/,
  "19-unknown-upload.yaml":
    /^line 10, column 7: jobs\.dump\.upload: unknown key "compression" \(did you mean "compress"\?\)$/,
  "20-unknown-retention.yaml":
    /^line 10, column 7: jobs\.dump\.retention: unknown key "keep_dayly" \(did you mean "keep_daily"\?\)$/,
  "21-unknown-es-retention.yaml":
    /^line 9, column 9: jobs\.es\.elasticsearch\.retention: unknown key "max_cnt" \(did you mean "max_count"\?\)$/,
  "22-unknown-no-hint.yaml":
    /^line 6, column 5: jobs\.nightly: unknown key "colour": known keys are schedule, timezone, command, /,
  // Cron expressions
  "23-cron-second.yaml":
    /^line 4, column 15: jobs\.nightly\.schedule: Invalid schedule "60 \* \* \* \* \*": second field: value 60 is out of range 0-59$/,
  "24-cron-minute.yaml":
    /^line 4, column 15: jobs\.nightly\.schedule: .*minute field: value 60 is out of range 0-59$/,
  "25-cron-hour.yaml": /^line 4, column 15: .*hour field: value 24 is out of range 0-23$/,
  "26-cron-day-of-month.yaml":
    /^line 4, column 15: .*day-of-month field: value 32 is out of range 1-31$/,
  "27-cron-month.yaml": /^line 4, column 15: .*month field: value 13 is out of range 1-12$/,
  "28-cron-day-of-week.yaml":
    /^line 4, column 15: .*day-of-week field: value 8 is out of range 0-6 \(Sunday is 0\)$/,
  "29-cron-bad-name.yaml":
    /^line 4, column 15: .*day-of-week field: unknown day name "MOM" \(use SUN-SAT or 0-6, Sunday is 0\)$/,
  "30-cron-bad-step.yaml":
    /^line 4, column 15: .*minute field: step must be at least 1, found "\*\/0"$/,
  "31-cron-field-count.yaml": /^line 4, column 15: .*expected 5 or 6 fields, found 4 \(/,
  "32-cron-bad-every.yaml":
    /^line 4, column 15: .*invalid duration "5 minutes": unknown unit " minutes" \(use ns, us, ms, s, m or h\)$/,
  "33-cron-tz-unknown.yaml":
    /^line 4, column 15: .*unknown time zone "Mars\/Olympus" \(use an IANA name such as "Europe\/Berlin"\)$/,
  "34-cron-bad-descriptor.yaml":
    /^line 4, column 15: .*unknown descriptor "@dialy" \(use @yearly, .* or @every <duration>\)$/,
  "35-timezone-unknown.yaml":
    /^line 5, column 15: jobs\.nightly\.timezone: unknown time zone "Europe\/Berlinn": use an IANA name/,
  // Durations and sizes
  "36-duration-words.yaml":
    /^line 6, column 14: jobs\.nightly\.timeout: Invalid duration "5 minutes": use a number with a unit/,
  "37-duration-bare-number.yaml":
    /^line 6, column 20: jobs\.nightly\.retry_backoff: Invalid duration "30": use a number with a unit/,
  "38-size-unit.yaml":
    /^line 3, column 47: storage\.s3\.part_size: Invalid size "8 parsecs": use a number with a unit .*"16MiB"$/,
  "39-size-zero.yaml": /^line 3, column 47: storage\.s3\.part_size: must be more than 0$/,
  // Environment variables
  "40-env-unset.yaml":
    /^line 9, column 17: jobs\.etcd\.etcd\.password: environment variable "SNAPCRON_TEST_UNSET_PASSWORD" is not set: set it, or write \$\{SNAPCRON_TEST_UNSET_PASSWORD:-default\}$/,
  "41-env-required-message.yaml":
    /^line 5, column 13: storage\.s3\.bucket: environment variable "SNAPCRON_TEST_UNSET_BUCKET" is not set: set it to the bucket name$/,
  "42-env-in-command.yaml":
    /^line 5, column 24: jobs\.nightly\.command\.1: environment variable "SNAPCRON_TEST_UNSET_HOST" is not set: /,
  "43-env-bad-reference.yaml":
    /^line 5, column 12: jobs\.nightly\.shell: invalid variable reference "\$\{1ST\}": write \$\{NAME\}/,
  // URLs
  "44-url-ping.yaml": {
    message:
      /^line 6, column 15: jobs\.nightly\.ping_url: invalid URL \(not shown: it may hold a secret\): write it in full, e.g. "https:\/\/hc-ping\.com\/UUID"$/,
    secret: "0b8c7f3e",
  },
  "45-url-etcd-endpoint.yaml":
    /^line 8, column 19: jobs\.etcd\.etcd\.endpoints\.0: invalid URL "127\.0\.0\.1:2379": write it in full, e.g. "http:\/\/etcd-1:2379"$/,
  "46-url-elasticsearch-scheme.yaml":
    /^line 6, column 14: jobs\.es\.elasticsearch\.urls\.0: invalid URL "ftp:\/\/127\.0\.0\.1:9200": use http:\/\/ or https:\/\//,
  // Jobs
  "47-duplicate-job.yaml":
    /^line 6, column 3: invalid YAML: Map keys must be unique: "nightly" appears twice, rename or remove one$/,
  "48-job-name-invalid.yaml":
    /^line 3, column 3: jobs\.nightly backup: invalid job name "nightly backup": use 1 to 63 letters/,
  "49-two-kinds.yaml":
    /^line 3, column 3: jobs\.nightly: a job needs exactly one of "command", "shell", "etcd", "elasticsearch", found "command" and "shell"$/,
  "50-no-kind.yaml":
    /^line 3, column 3: jobs\.nightly: a job needs exactly one of "command", "shell", "etcd", "elasticsearch": add one$/,
  "51-upload-unknown-storage.yaml":
    /^line 8, column 24: jobs\.nightly\.upload\.storage: no storage named "backup": define it under "storage" or use one of "backups"$/,
  "52-key-without-time.yaml":
    /^line 8, column 38: jobs\.nightly\.upload\.key: key "pg\/latest\.sql" has neither \{time\} nor \{run\}/,
  "53-retention-without-upload.yaml":
    /^line 6, column 5: jobs\.nightly\.retention: retention needs "upload"/,
  "54-etcd-without-upload.yaml": /^line 5, column 5: jobs\.etcd\.etcd: an etcd job needs "upload"/,
  "55-min-count-above-max.yaml":
    /^line 8, column 7: jobs\.es\.elasticsearch\.retention: .*min_count is 10 but max_count is 5: raise max_count or lower min_count/,
  "56-keep-last-zero.yaml":
    /^line 9, column 29: jobs\.nightly\.retention\.keep_last: must be at least 1$/,
  "57-retries-negative.yaml": /^line 6, column 14: jobs\.nightly\.retries: must be at least 0$/,
  "58-storage-type-unknown.yaml":
    /^line 4, column 11: storage\.backups\.type: must be one of "s3", "local", got "ftp"$/,
  "59-listen-no-port.yaml":
    /^line 3, column 11: status\.listen: invalid listen address "localhost": write "host:port" or ":port"/,
  "60-listen-port-range.yaml":
    /^line 3, column 11: status\.listen: invalid listen address "127\.0\.0\.1:70000": write "host:port"/,
  // YAML syntax
  "61-yaml-bad-indent.yaml":
    /^line 5, column 7: invalid YAML: All mapping items must start at the same column$/,
  "62-yaml-unclosed-quote.yaml":
    /^line 4, column 15: invalid YAML: the quote " opened here is never closed: add the closing "$/,
  "63-yaml-tab-indent.yaml":
    /^line 4, column 1: invalid YAML: a tab is used for indentation: indent with spaces$/,
  "64-non-utf8.yaml": /^line 5, column 30: invalid UTF-8 byte 0xE9: save the file as UTF-8$/,
  // Secrets
  "65-secret-password-number.yaml": {
    message:
      /^line 10, column 17: jobs\.etcd\.etcd\.password: expected a string, got a number \(not shown: the key holds a secret\)$/,
    secret: "73519246",
  },
  "66-secret-url-userinfo.yaml":
    /^line 8, column 19: jobs\.etcd\.etcd\.endpoints\.0: invalid URL "etcd:\/\/root:\*\*\*@127\.0\.0\.1:2379": use http:\/\/ or https:\/\//,
  "67-two-problems.yaml": {
    message:
      /^line 6, column 5: jobs\.nightly: unknown key "timout" \(did you mean "timeout"\?\)\n.*: line 10, column 14: jobs\.hourly\.overlap: must be one of "skip", "allow", "replace", got "queue"$/,
    lines: 2,
  },
  "68-secret-from-env.yaml":
    /^line 6, column 14: jobs\.nightly\.overlap: must be one of "skip", "allow", "replace", got "\*\*\*"$/,
  // More YAML syntax
  "69-yaml-unquoted-at.yaml":
    /^line 4, column 15: invalid YAML: a value cannot start with "@" unless it is quoted: put the value in quotes$/,
  "70-yaml-unclosed-bracket.yaml":
    /^line 5, column 14: invalid YAML: the "\[" opened here does not end with "\]": add the missing "\]"/,
  "71-yaml-unquoted-braces.yaml":
    /^line 6, column 20: invalid YAML: unexpected "\{" here: put values that contain .* in quotes, e\.g\. "\$\{VAR\}"$/,
  "72-yaml-two-documents.yaml":
    /^line 4, column 1: invalid YAML: the file holds more than one YAML document: keep one, remove the "---" line$/,
  "73-yaml-unknown-alias.yaml":
    /^line 6, column 10: unknown alias "\*common_env": define the anchor "&common_env" before it$/,
  "74-yaml-bad-escape.yaml":
    /^line 5, column 20: invalid YAML: invalid escape "\\d" in a double-quoted string: write "\\\\" for a backslash, or use single quotes$/,
  "75-yaml-alias-bomb.yaml":
    /^line 3, column 8: aliases expand to too much data: repeat fewer "\*" aliases$/,
  // More shapes
  "76-storage-no-type.yaml":
    /^line 4, column 5: storage\.backups\.type: missing required key "type": use one of "s3", "local"$/,
  "77-group-invalid.yaml":
    /^line 6, column 12: jobs\.nightly\.group: invalid value "cluster a": use 1 to 63 letters/,
  "78-retries-fraction.yaml":
    /^line 6, column 14: jobs\.nightly\.retries: expected a whole number, got number 1\.5$/,
  "79-jobs-empty.yaml": /^line 2, column 1: jobs: no jobs: add at least one job under "jobs"$/,
  "80-job-empty.yaml": /^line 3, column 11: jobs\.nightly: expected a mapping, got an empty value$/,
  "81-no-jobs-key.yaml": /^line 2, column 1: jobs: missing required key "jobs"$/,
  "82-top-level-list.yaml": /^line 2, column 1: expected a mapping, got a list$/,
  "83-secret-webhook-scheme.yaml":
    /^line 6, column 18: jobs\.nightly\.webhook_url: invalid URL \(not shown: it may hold a secret\): write it in full/,
  "84-timeout-zero.yaml":
    /^line 6, column 14: jobs\.nightly\.timeout: timeout must be more than 0: remove it for "no timeout"$/,
  "85-command-list-in-list.yaml":
    /^line 5, column 26: jobs\.nightly\.command\.1: expected a string, number or boolean, got a list$/,
};

/** Secret values in the corpus contain this; it must never reach the output. */
const SECRET_MARK = "s3cr3t";

/** Set for every config case; 68 uses it where the value lands in a message. */
const ENV = { SNAPCRON_TEST_SECRET_TOKEN: `hunter2-${SECRET_MARK}` };

/** Internals that must never reach a user: stack traces, zod, yaml and parseArgs wording. */
const FORBIDDEN = [
  /^ {4}at /m,
  /\[object Object\]/,
  /undefined/,
  /\bNaN\b/,
  /Invalid input/,
  /Zod/,
  /\breceived\b/,
  /\ba int\b/,
  /Uncaught/,
  /\b(?:BAD|TAB|MISSING|DUPLICATE|UNEXPECTED|MULTIPLE|BLOCK)_[A-Z_]+\b/,
  /ERR_PARSE_ARGS/,
  /parseAllDocuments|YAMLParseError|\b(?:flow|block)-(?:map|seq)-(?:start|end)\b|map-value-ind/,
  /To specify a positional/,
];

/** The checks every broken input shares; `lines` counts stderr lines, hint line included. */
function assertUserFacing(result: CliResult, lines: number, secret?: string): string[] {
  assert.equal(result.code, 2, `exit code, stderr:\n${result.stderr}`);
  assert.equal(result.stdout, "", "nothing on standard output");
  for (const pattern of FORBIDDEN) {
    assert.doesNotMatch(result.stderr, pattern, `internals in:\n${result.stderr}`);
  }
  assert.ok(!result.stderr.includes(SECRET_MARK), `a secret in:\n${result.stderr}`);
  if (secret) assert.ok(!result.stderr.includes(secret), `the secret in:\n${result.stderr}`);
  const output = result.stderr.replace(/\n$/, "").split("\n");
  assert.equal(output.length, lines, `one line per problem, got:\n${result.stderr}`);
  return output;
}

/** Runs `run` over `items`, `limit` at a time; each CLI run is a Deno process start. */
async function pool<T>(items: T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await run(item);
    }),
  );
}

Deno.test("the corpus and the table list the same configs", async () => {
  const files = [];
  for await (const entry of Deno.readDir(CORPUS)) files.push(entry.name);
  assert.deepEqual(files.sort(), Object.keys(CONFIGS).sort());
  assert.ok(files.length >= 45);
});

Deno.test("snapcron validate explains each broken config in one line per problem", async () => {
  const failures: string[] = [];
  await pool(Object.entries(CONFIGS), 8, async ([name, expected]) => {
    const { message, lines = 1, secret } = expected instanceof RegExp
      ? { message: expected }
      : expected;
    const file = `${CORPUS}/${name}`;
    const result = await snapcron(["validate", "--config", file], ENV);
    try {
      assertUserFacing(result, lines, secret);
      const prefix = `Cannot load config "${file}": `;
      assert.ok(result.stderr.startsWith(prefix), `names the file:\n${result.stderr}`);
      assert.match(result.stderr.slice(prefix.length).trimEnd(), message);
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message}`);
    }
  });
  assert.deepEqual(failures, []);
});

/** A command line, what its first stderr line must say, and the command its hint names. */
type CommandCase = [args: string[], message: RegExp, help?: string];

const VALID = `jobs:\n  nightly:\n    schedule: "@daily"\n    command: [/bin/true]\n`;

const COMMANDS: CommandCase[] = [
  [["frobnicate"], /^Unknown command "frobnicate": use run, once, validate, next, /, ""],
  [["valdiate"], /^Unknown command "valdiate" \(did you mean "validate"\?\)$/, ""],
  [["--verbose"], /^Unknown flag "--verbose": put a command first, e\.g\. snapcron validate/, ""],
  [
    ["validate", "--confg", "x"],
    /^Unknown flag "--confg" \(did you mean "--config"\?\)$/,
    "validate",
  ],
  [["validate", "-x"], /^Unknown flag "-x": use --config, --help$/, "validate"],
  [["validate", "--config"], /^Flag "--config" needs a value$/, "validate"],
  [
    ["validate", "--config", "--help"],
    /^Flag "--config" needs a value, but the next argument is a flag: write --config=VALUE /,
    "validate",
  ],
  [["validate", "--help=yes"], /^Flag "--help" takes no value$/, "validate"],
  [
    ["validate", "snapcron.yaml"],
    /^Unexpected argument "snapcron\.yaml": snapcron validate takes flags only$/,
    "validate",
  ],
  [["validate", "--config", CORPUS], /^Cannot load config "tests\/bad_input": is a directory: /],
  [
    ["validate", "--config", `${CORPUS}/no-such-file.yaml`],
    /^Cannot load config "tests\/bad_input\/no-such-file\.yaml": file not found: pass --config FILE/,
  ],
  [["once", "--config", "{valid}"], /^Expected one JOB name: snapcron once JOB$/, "once"],
  [["once", "a", "b", "--config", "{valid}"], /^Expected one JOB name: /, "once"],
  [
    ["once", "nightlly", "--config", "{valid}"],
    /^No job named "nightlly" in ".*" \(did you mean "nightly"\?\)$/,
    "once",
  ],
  [
    ["once", "nightly", "--config", `${CORPUS}/24-cron-minute.yaml`],
    /^Cannot load config "tests\/bad_input\/24-cron-minute\.yaml": line 4, column 15: /,
  ],
  [
    ["run", "--config", `${CORPUS}/15-unknown-job.yaml`],
    /: line 6, column 5: jobs\.nightly: unknown key "timout" \(did you mean "timeout"\?\)$/,
  ],
  [["run", "--log-format", "xml"], /^Invalid --log-format "xml": use "text" or "json"$/, "run"],
  [
    ["once", "nightly", "--log-format", "xml", "--config", "{valid}"],
    /^Invalid --log-format "xml": /,
    "once",
  ],
  [
    ["-s", "* * * * *", "--log-format", "xml", "--", "/bin/true"],
    /^Invalid --log-format /,
    "gocron",
  ],
  [
    ["next"],
    /^Missing EXPR: quote the schedule, e\.g\. snapcron next "0\/10 \* \* \* \* \*"$/,
    "next",
  ],
  [
    ["next", "0", "*", "*", "*", "*"],
    /^Expected one EXPR, got 5: quote the schedule so the shell keeps it whole$/,
    "next",
  ],
  [
    ["next", "0 * * * *", "--count", "ten"],
    /^Invalid --count "ten": use a whole number from 1 to 10000$/,
    "next",
  ],
  [["next", "0 * * * *", "--count", "0"], /^Invalid --count "0": use a whole number /, "next"],
  [
    ["next", "0 * * * *", "--count", "-1"],
    /^Flag "--count" needs a value, but the next argument is a flag: write --count=VALUE /,
    "next",
  ],
  [
    ["next", "0 * * * *", "--from", "yesterday"],
    /^Invalid --from "yesterday": use ISO 8601, e\.g\. /,
    "next",
  ],
  [
    ["next", "0 * * * *", "--tz", "Mars/Olympus"],
    /^Unknown time zone "Mars\/Olympus": use an IANA name such as "Europe\/Berlin"$/,
    "next",
  ],
  [
    ["next", "0 * * * *", "--dialect", "quartz"],
    /^Invalid --dialect "quartz": use "standard" or "gocron"$/,
    "next",
  ],
  [
    ["next", "0 61 * * * *"],
    /^Invalid schedule "0 61 \* \* \* \*": minute field: value 61 is out of range 0-59$/,
  ],
  [["next", "@every 5 minutes"], /^Invalid schedule "@every 5 minutes": invalid duration /],
  [
    ["next", "CRON_TZ=Mars/Olympus 0 9 * * *"],
    /: unknown time zone "Mars\/Olympus" \(use an IANA name such as "Europe\/Berlin"\)$/,
  ],
  [
    ["-s", "* * * * *", "-p", "http", "--", "/bin/true"],
    /^Invalid -p "http": use a port number from 0 to 65535/,
    "gocron",
  ],
  [["-p", "70000", "--", "/bin/true"], /^Invalid -p "70000": use a port number /, "gocron"],
  [
    ["-s", "* * * * *"],
    /^Missing the command: snapcron -s "EXPR" -- CMD \[ARGS\.\.\.\]$/,
    "gocron",
  ],
  [["-s", "* * * * *", "-p", "0", "--"], /^Missing the command: /, "gocron"],
  [["-s", "--", "/bin/true"], /^Flag "-s" needs a value$/, "gocron"],
  [
    ["-s", "61 * * * *", "--", "/bin/true"],
    /^Invalid schedule "61 \* \* \* \*": second field: value 61 is out of range 0-59$/,
  ],
  [
    ["-s", "* * * * *", "-x", "--", "/bin/true"],
    /^Unknown go-cron flag "-x": use -s EXPR, -p PORT, then -- CMD ARGS$/,
    "gocron",
  ],
];

Deno.test("snapcron explains each wrong command line in one line plus a --help hint", async () => {
  const valid = await tempConfig(VALID);
  const failures: string[] = [];
  await pool(COMMANDS, 8, async ([args, message, help]) => {
    const result = await snapcron(args.map((arg) => arg.replace("{valid}", valid)));
    try {
      const output = assertUserFacing(result, help === undefined ? 1 : 2);
      assert.match(output[0]!, message);
      if (help !== undefined) {
        assert.equal(output[1], `Run "snapcron ${help ? help + " " : ""}--help" for usage.`);
      }
    } catch (error) {
      failures.push(`${JSON.stringify(args)}: ${(error as Error).message}`);
    }
  });
  await Deno.remove(valid);
  assert.deepEqual(failures, []);
});

Deno.test("snapcron gocron --help, the command its usage hint names, prints the go-cron usage", async () => {
  const result = await snapcron(["gocron", "--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^Usage: snapcron -s EXPR/);
});

/** True when this user reads a file whatever its mode: root (CAP_DAC_OVERRIDE) does. */
async function readsAnyFile(): Promise<boolean> {
  const file = await Deno.makeTempFile();
  try {
    await Deno.chmod(file, 0o000);
    return await Deno.readFile(file).then(() => true, () => false);
  } finally {
    await Deno.remove(file);
  }
}

Deno.test({
  name: "snapcron validate explains an unreadable config",
  // As root the file is read anyway, so the case cannot happen: it is skipped, not faked.
  ignore: await readsAnyFile(),
  fn: async () => {
    const file = await tempConfig(VALID);
    await Deno.chmod(file, 0o000);
    const result = await snapcron(["validate", "--config", file]);
    await Deno.remove(file);
    const [line] = assertUserFacing(result, 1);
    assert.equal(
      line,
      `Cannot load config "${file}": permission denied: make the file readable for this user`,
    );
  },
});
