import assert from "node:assert/strict";
import { collect, freePort, snapcron, spawnSnapcron, tempConfig, waitFor } from "./_cli.ts";

Deno.test("snapcron next prints ISO times, one a line", async () => {
  const result = await snapcron([
    "next",
    "0/10 * * * * *",
    "--count",
    "3",
    "--from",
    "2026-01-01T00:00:05Z",
  ]);
  assert.deepEqual(result.code, 0);
  assert.deepEqual(result.stdout.trim().split("\n"), [
    "2026-01-01T00:00:10.000Z",
    "2026-01-01T00:00:20.000Z",
    "2026-01-01T00:00:30.000Z",
  ]);
});

Deno.test("snapcron next reads a time zone and go-cron's legacy dialect", async () => {
  const berlin = await snapcron([
    "next",
    "0 30 2 * * *",
    "--tz",
    "Europe/Berlin",
    "--from",
    "2026-06-01T00:00:00Z",
    "--count",
    "1",
  ]);
  assert.deepEqual(berlin.stdout.trim(), "2026-06-01T00:30:00.000Z");
  const legacy = await snapcron([
    "next",
    "--dialect",
    "gocron",
    "*/5 * * * *",
    "--from",
    "2026-01-01T00:00:00Z",
    "--count",
    "2",
  ]);
  assert.deepEqual(legacy.stdout.trim().split("\n"), [
    "2026-01-01T00:00:05.000Z",
    "2026-01-01T00:00:10.000Z",
  ]);
  const standard = await snapcron([
    "next",
    "*/5 * * * *",
    "--from",
    "2026-01-01T00:00:00Z",
    "--count",
    "1",
  ]);
  assert.deepEqual(standard.stdout.trim(), "2026-01-01T00:05:00.000Z");
});

Deno.test("snapcron next rejects a wrong expression with exit 2 and the field", async () => {
  const result = await snapcron(["next", "0 61 * * * *"]);
  assert.deepEqual(result.code, 2);
  assert.match(result.stderr, /minute/i);
  assert.ok(!result.stderr.includes("    at "), "no stack trace");
});

Deno.test("snapcron validate prints the plan and exits 0", async () => {
  const config = await tempConfig(
    `jobs:\n  nightly:\n    schedule: "0 30 1 * * *"\n    command: [/bin/true]\n    timeout: 2h\n`,
  );
  const result = await snapcron(["validate", "--config", config]);
  assert.deepEqual(result.code, 0, result.stderr);
  assert.match(result.stdout, /is valid: 1 job/);
  assert.match(result.stdout, /nightly \(command\)/);
  assert.match(result.stdout, /timeout 2h/);
  await Deno.remove(config);
});

Deno.test("snapcron validate exits 2 naming file, line and column", async () => {
  const config = await tempConfig(
    `jobs:\n  nightly:\n    schedule: "0 30 1 * * *"\n    comand: [/bin/true]\n`,
  );
  const result = await snapcron(["validate", "--config", config]);
  assert.deepEqual(result.code, 2);
  assert.match(
    result.stderr,
    new RegExp(
      `Cannot load config ".*\\.yaml": line 4, column 5: jobs\\.nightly: unknown key "comand" \\(did you mean "command"\\?\\)`,
    ),
  );
  assert.ok(!result.stderr.includes("    at "), "no stack trace");
  await Deno.remove(config);
});

Deno.test("snapcron validate uses $SNAPCRON_CONFIG and explains a missing file", async () => {
  const result = await snapcron(["validate"], { SNAPCRON_CONFIG: "/no/such/snapcron.yaml" });
  assert.deepEqual(result.code, 2);
  assert.match(result.stderr, /Cannot load config "\/no\/such\/snapcron\.yaml": file not found/);
});

Deno.test("snapcron once runs a job and exits with 0 or 1", async () => {
  const config = await tempConfig(`jobs:
  ok:
    schedule: "@daily"
    command: ["/bin/echo", "done"]
  fails:
    schedule: "@daily"
    shell: "exit 4"
`);
  const ok = await snapcron(["once", "ok", "--config", config]);
  assert.deepEqual(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /\[ok\] done/);
  const fails = await snapcron(["once", "fails", "--config", config]);
  assert.deepEqual(fails.code, 1);
  assert.match(fails.stderr, /exited with status 4/);
  const unknown = await snapcron(["once", "fail", "--config", config]);
  assert.deepEqual(unknown.code, 2);
  assert.match(unknown.stderr, /No job named "fail" .*\(did you mean "fails"\?\)/);
  await Deno.remove(config);
});

Deno.test("snapcron rejects unknown commands and flags with exit 2", async () => {
  const unknown = await snapcron(["frobnicate"]);
  assert.deepEqual(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown command "frobnicate"/);
  const flag = await snapcron(["validate", "--confg", "x"]);
  assert.deepEqual(flag.code, 2);
  assert.match(flag.stderr, /confg/);
  const help = await snapcron(["run", "--help"]);
  assert.deepEqual(help.code, 0);
  assert.match(help.stdout, /Usage: snapcron run/);
});

Deno.test("snapcron -s -p -- CMD behaves like go-cron", async () => {
  const port = freePort();
  const child = spawnSnapcron([
    "-s",
    "* * * * *",
    "-p",
    String(port),
    "--",
    "/bin/sh",
    "-c",
    "echo tick ${GREETING}; exit 2",
  ], { GREETING: "hi" });
  const stderr = collect(child.stderr);
  const stdout = collect(child.stdout);
  try {
    const { status, body } = await waitFor("a go-cron style run", async () => {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      const body = await response.json();
      return body.Last.ExitTime ? { status: response.status, body } : undefined;
    });
    assert.deepEqual(status, 503);
    assert.deepEqual(body.Last.Exit_status, 2);
    assert.deepEqual(body.Last.Stdout, "tick hi\n", "the command reaches the shell verbatim");
    assert.deepEqual(body.Schedule, "* * * * *");
  } finally {
    child.kill("SIGTERM");
  }
  await child.status;
  await Promise.all([stdout.done, stderr.done]);
  assert.match(stderr.text(), /read as gocron v1: 5 fields = second minute hour/);
});

Deno.test("the demo config behind deno task start is valid", async () => {
  const result = await snapcron(["validate", "--config", "examples/demo.yaml"], {
    SNAPCRON_DEMO_DIR: "/tmp/snapcron-demo-validate",
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /backup \(command\)/);
  assert.match(
    result.stdout,
    /upload +\/tmp\/snapcron-demo-validate as "\{job\}\/\{time\}\.tar\.gz" \(gzip\)/,
  );
});

Deno.test("snapcron healthcheck fails when nothing answers", async () => {
  const result = await snapcron([
    "healthcheck",
    "--url",
    `http://127.0.0.1:${freePort()}`,
    "--timeout",
    "2",
  ]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /healthz: /);
});
