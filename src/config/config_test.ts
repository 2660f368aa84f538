import assert from "node:assert/strict";
import {
  ConfigError,
  expandEnv,
  formatDuration,
  parseConfig,
  parseDuration,
  parseListen,
} from "./mod.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

function configError(text: string, vars: Record<string, string> = {}): ConfigError {
  try {
    parseConfig(text, "snapcron.yaml", { env: env(vars) });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    return error;
  }
  throw new Error("expected the config to be refused");
}

Deno.test("parseDuration() reads units and combinations", () => {
  assert.deepEqual(parseDuration("30s"), 30_000);
  assert.deepEqual(parseDuration("2h"), 7_200_000);
  assert.deepEqual(parseDuration("7d"), 604_800_000);
  assert.deepEqual(parseDuration("1h30m"), 5_400_000);
  assert.deepEqual(parseDuration("500ms"), 500);
  assert.deepEqual(parseDuration("1.5s"), 1500);
  assert.deepEqual(parseDuration("0"), 0);
  assert.deepEqual(parseDuration("2w"), 1_209_600_000);
});

Deno.test("parseDuration() rejects bare numbers, unknown units and junk", () => {
  for (const bad of ["30", "5 minutes", "1y", "", "h", "1h 30m", "-5s", "1h30"]) {
    assert.throws(() => parseDuration(bad), { name: "RangeError", message: /Invalid duration/ });
  }
});

Deno.test("formatDuration() writes what parseDuration() reads", () => {
  for (const ms of [0, 1000, 90_000, 5_400_000, 86_400_000 + 1500]) {
    assert.deepEqual(parseDuration(formatDuration(ms)), ms);
  }
});

Deno.test("expandEnv() expands plain, default and required references", () => {
  const vars = env({ HOST: "es-1", EMPTY: "" });
  assert.deepEqual(expandEnv("http://${HOST}:9200", vars), "http://es-1:9200");
  assert.deepEqual(expandEnv("${MISSING:-fallback}", vars), "fallback");
  assert.deepEqual(expandEnv("${EMPTY:-fallback}", vars), "fallback");
  assert.deepEqual(expandEnv("${EMPTY-fallback}", vars), "");
  assert.deepEqual(expandEnv("${MISSING:-${HOST}}", vars), "es-1");
  assert.deepEqual(expandEnv("cost: $$5", vars), "cost: $5");
  assert.throws(() => expandEnv("${MISSING}", vars), {
    name: "RangeError",
    message: /"MISSING" is not set/,
  });
  assert.throws(() => expandEnv("${MISSING:?set the password}", vars), {
    name: "RangeError",
    message: /set the password/,
  });
  assert.throws(() => expandEnv("${1BAD}", vars), {
    name: "RangeError",
    message: /invalid variable reference/,
  });
});

Deno.test("parseListen() reads host:port forms and port 0 as disabled", () => {
  assert.deepEqual(parseListen(":18080"), { enabled: true, hostname: "0.0.0.0", port: 18080 });
  assert.deepEqual(parseListen("127.0.0.1:9000"), {
    enabled: true,
    hostname: "127.0.0.1",
    port: 9000,
  });
  assert.deepEqual(parseListen("[::1]:80"), { enabled: true, hostname: "::1", port: 80 });
  assert.deepEqual(parseListen("0").enabled, false);
  assert.deepEqual(parseListen(":0").enabled, false);
  assert.throws(() => parseListen("localhost"), {
    name: "RangeError",
    message: /invalid listen address/,
  });
  assert.throws(() => parseListen(":70000"), RangeError);
});

Deno.test("parseConfig() fills defaults for a minimal command job", () => {
  const config = parseConfig(
    'jobs:\n  report:\n    schedule: "0 */5 * * * *"\n    command: [/bin/echo, hi]\n',
    "snapcron.yaml",
    { env: env({}) },
  );
  assert.deepEqual(config.status.port, 18080);
  assert.deepEqual(config.shutdownGraceMs, 30_000);
  const job = config.jobs[0]!;
  assert.deepEqual(job.name, "report");
  assert.deepEqual(job.command, ["/bin/echo", "hi"]);
  assert.deepEqual(job.overlap, "skip");
  assert.deepEqual(job.retries, 0);
  assert.deepEqual(job.schedule.text, "0 */5 * * * *");
  assert.deepEqual(job.schedule.timezone, "UTC");
});

Deno.test("parseConfig() reads every job key", () => {
  const config = parseConfig(
    `status:
  listen: "127.0.0.1:9999"
  history: 5
log: { format: json, level: debug }
shutdown_grace: 1m
jobs:
  dump:
    schedule: "@every 1h30m"
    timezone: Europe/Berlin
    shell: "pg_dump > /tmp/x"
    env: { PGHOST: db, PORT: 5432 }
    workdir: /tmp
    timeout: 2h
    kill_grace: 5s
    retries: \${RETRIES:-3}
    retry_backoff: 30s
    overlap: replace
    group: cluster-a
    jitter: 1m
    run_on_start: true
    starting_deadline: 10m
`,
    "snapcron.yaml",
    { env: env({}) },
  );
  const job = config.jobs[0]!;
  assert.deepEqual(config.status, {
    enabled: true,
    hostname: "127.0.0.1",
    port: 9999,
    history: 5,
    protectReads: false,
  });
  assert.deepEqual(config.log, { format: "json", level: "debug" });
  assert.deepEqual(config.shutdownGraceMs, 60_000);
  assert.deepEqual(job.shell, "pg_dump > /tmp/x");
  assert.deepEqual(job.env, { PGHOST: "db", PORT: "5432" });
  assert.deepEqual(job.timeoutMs, 7_200_000);
  assert.deepEqual(job.killGraceMs, 5000);
  assert.deepEqual(job.retries, 3);
  assert.deepEqual(job.retryBackoffMs, 30_000);
  assert.deepEqual(job.overlap, "replace");
  assert.deepEqual(job.group, "cluster-a");
  assert.deepEqual(job.jitterMs, 60_000);
  assert.deepEqual(job.runOnStart, true);
  assert.deepEqual(job.startingDeadlineMs, 600_000);
  assert.deepEqual(job.schedule.timezone, "Europe/Berlin");
});

Deno.test("parseConfig() names line, column and the near key for a typo", () => {
  const error = configError('jobs:\n  report:\n    shedule: "@daily"\n    command: [echo]\n');
  assert.match(
    error.message,
    /^Cannot load config "snapcron\.yaml": line 3, column 5: jobs\.report: unknown key "shedule" \(did you mean "schedule"\?\)/,
  );
  assert.deepEqual(error.line, 3);
  assert.deepEqual(error.column, 5);
});

Deno.test("parseConfig() reports each kind of mistake with its place", () => {
  const cases: [string, RegExp][] = [
    [
      "jobs:\n  a:\n    schedule: '@daily'\n",
      /line 2, column 3: jobs\.a: a job needs exactly one of "command", "shell", "etcd", "elasticsearch": add one/,
    ],
    [
      "jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n    shell: y\n",
      /found "command" and "shell"/,
    ],
    [
      "jobs:\n  a:\n    command: [x]\n",
      /line 3, column 5: jobs\.a\.schedule: missing required key "schedule"/,
    ],
    [
      "jobs:\n  a:\n    schedule: '61 * * * *'\n    command: [x]\n",
      /line 3, column 15: jobs\.a\.schedule: .*61/,
    ],
    [
      "jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n    timeout: 5 minutes\n",
      /line 5, column 14: jobs\.a\.timeout: .*Invalid duration "5 minutes"/,
    ],
    [
      "jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n    overlap: queue\n",
      /jobs\.a\.overlap: must be one of "skip", "allow", "replace", got "queue"/,
    ],
    [
      "jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n    retries: -1\n",
      /jobs\.a\.retries: must be at least 0/,
    ],
    [
      "jobs:\n  a:\n    schedule: '@daily'\n    command: echo\n",
      /jobs\.a\.command: expected a list, got "echo"/,
    ],
    [
      "jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n    timezone: Mars/Base\n",
      /unknown time zone "Mars\/Base"/,
    ],
    [
      "jobs:\n  'bad name':\n    schedule: '@daily'\n    command: [x]\n",
      /invalid job name "bad name"/,
    ],
    [
      "jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n  a:\n    schedule: '@daily'\n",
      /line 5, column 3: invalid YAML: Map keys must be unique/,
    ],
    ["jobs:\n  a:\n    schedule: '@daily\n", /invalid YAML/],
    [
      "status:\n  listen: nowhere\njobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n",
      /line 2, column 11: status\.listen: invalid listen address "nowhere"/,
    ],
    ["jobs: {}\n", /no jobs: add at least one job/],
    ["", /the file is empty/],
    ["jobz:\n  a: {}\n", /unknown key "jobz" \(did you mean "jobs"\?\)/],
    [
      "jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n    password: ${DB_PASS}\n",
      /line 5, column 15: jobs\.a\.password: environment variable "DB_PASS" is not set/,
    ],
  ];
  for (const [text, expected] of cases) {
    assert.match(configError(text).message, expected, `for config:\n${text}`);
  }
});

Deno.test("parseConfig() keeps secrets from the environment out of logs", () => {
  const config = parseConfig(
    "status:\n  token: ${TOKEN}\njobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n",
    "snapcron.yaml",
    { env: env({ TOKEN: "s3cr3t-value" }) },
  );
  assert.deepEqual(config.status.token, "s3cr3t-value");
  assert.ok(config.secrets.includes("s3cr3t-value"));
});

Deno.test("parseConfig() reads the default zone from TZ", () => {
  const config = parseConfig(
    "jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n",
    "snapcron.yaml",
    { env: env({ TZ: "America/New_York" }) },
  );
  assert.deepEqual(config.jobs[0]!.schedule.timezone, "America/New_York");
});

Deno.test("parseConfig() treats values of secret-named variables as secrets wherever they are used", () => {
  const config = parseConfig(
    "jobs:\n  a:\n    schedule: '@daily'\n    command: [mysqldump, '-p${DB_PASSWORD}', '${DB_HOST}']\n",
    "snapcron.yaml",
    { env: env({ DB_PASSWORD: "hunter2-long", DB_HOST: "db-1" }) },
  );
  assert.ok(config.secrets.includes("hunter2-long"));
  assert.ok(!config.secrets.includes("db-1"));
});

const STORAGE = `storage:
  backups: { type: local, path: /tmp/snapcron-backups }
  s3: { type: s3, bucket: b, endpoint: "http://127.0.0.1:19000", part_size: 8MiB }
`;

Deno.test("parseConfig() reads storages, uploads and retention", () => {
  const config = parseConfig(
    `${STORAGE}jobs:
  etcd:
    schedule: "@hourly"
    etcd: { endpoints: ["http://127.0.0.1:2379"], username: root, password: pw-secret }
    upload: { storage: s3 }
    retention: { keep_last: 24, keep_daily: 7 }
  dump:
    schedule: "@daily"
    command: [pg_dump]
    upload: { storage: backups, key: "pg/{date}/{time}.sql.gz", compress: gzip }
  es:
    schedule: "@daily"
    elasticsearch:
      urls: ["http://127.0.0.1:9200"]
      repository: { name: repo, type: fs, settings: { location: /srv/repo } }
      retention: { expire_after: 30d, min_count: 5, max_count: 50 }
`,
    "snapcron.yaml",
    { env: env({}) },
  );
  const [etcd, dump, es] = config.jobs;
  assert.equal(etcd!.kind, "etcd");
  assert.deepEqual(etcd!.upload, { storage: "s3", key: "{job}/{time}.db.gz", compress: "gzip" });
  assert.deepEqual(etcd!.retention, { keep_last: 24, keep_daily: 7 });
  assert.ok(config.secrets.includes("pw-secret"));
  assert.equal(dump!.kind, "command");
  assert.deepEqual(dump!.upload, {
    storage: "backups",
    key: "pg/{date}/{time}.sql.gz",
    compress: "gzip",
  });
  assert.equal(es!.kind, "elasticsearch");
  assert.equal(es!.elasticsearch!.retention!.expire_after, 30 * 86_400_000);
  const s3 = config.storage.s3!;
  assert.equal(s3.type === "s3" && s3.part_size, 8 * 2 ** 20);
});

Deno.test("parseConfig() explains storage and upload mistakes", () => {
  const cases: [string, RegExp][] = [
    [
      `${STORAGE}jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n    upload: { storage: nope }\n`,
      /jobs\.a\.upload\.storage: no storage named "nope": define it under "storage" or use one of "backups", "s3"/,
    ],
    [
      `${STORAGE}jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n    upload: { storage: backups, key: "x/{host}.gz" }\n`,
      /unknown placeholder "\{host\}"/,
    ],
    [
      `${STORAGE}jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n    upload: { storage: backups, key: "x/latest.gz" }\n`,
      /neither \{time\} nor \{run\}: every backup would overwrite the last/,
    ],
    [
      `jobs:\n  a:\n    schedule: '@daily'\n    etcd: { endpoints: ["http://e:2379"] }\n`,
      /an etcd job needs "upload"/,
    ],
    [
      `jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n    retention: { keep_last: 3 }\n`,
      /retention needs "upload"/,
    ],
    [
      `storage:\n  b: { type: ftp, path: x }\njobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n`,
      /storage\.b\.type: .*"s3".*"local"/,
    ],
    [
      `${
        STORAGE.replace("8MiB", "8 parsecs")
      }jobs:\n  a:\n    schedule: '@daily'\n    command: [x]\n`,
      /storage\.s3\.part_size: .*Invalid size "8 parsecs"/,
    ],
    [
      `jobs:\n  a:\n    schedule: '@daily'\n    etcd: { endpoints: ["http://e:2379"], pasword: x }\n`,
      /unknown key "pasword" \(did you mean "password"\?\)/,
    ],
  ];
  for (const [text, expected] of cases) {
    assert.match(configError(text).message, expected, `for config:\n${text}`);
  }
});
