import assert from "node:assert/strict";
import { collect, freePort, snapcron, spawnSnapcron, tempConfig, waitFor } from "./_cli.ts";

async function status(port: number): Promise<{ code: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}/`);
  return { code: response.status, body: await response.json() };
}

async function stop(child: Deno.ChildProcess, streams: { done: Promise<void> }[]): Promise<number> {
  child.kill("SIGTERM");
  const { code } = await child.status;
  await Promise.all(streams.map((stream) => stream.done));
  return code;
}

Deno.test("A restarted snapcron with a state_file still reports the failed backup", async () => {
  const dir = await Deno.makeTempDir();
  const port = freePort();
  const config = await tempConfig(`
status: { listen: "127.0.0.1:${port}", state_file: "${dir}/state.json" }
jobs:
  backup:
    schedule: "@yearly"
    run_on_start: true
    shell: "echo failing backup >&2; exit 5"
`);
  const first = spawnSnapcron(["run", "--config", config]);
  const streams = [collect(first.stdout), collect(first.stderr)];
  await waitFor(
    "the failed run",
    async () => ((await status(port)).code === 503 ? true : undefined),
  );
  assert.equal(await stop(first, streams), 0);

  // The restarted process has no run of its own yet: only the state file can say it failed.
  await Deno.writeTextFile(
    config,
    (await Deno.readTextFile(config)).replace("run_on_start: true", "run_on_start: false"),
  );
  const second = spawnSnapcron(["run", "--config", config]);
  const again = [collect(second.stdout), collect(second.stderr)];
  try {
    const { code, body } = await waitFor("the status server", () => status(port));
    assert.equal(code, 503);
    assert.equal((body.Last as Record<string, unknown>).Exit_status, 5);
    assert.equal((body.Last as Record<string, unknown>).Stderr, "failing backup\n");
  } finally {
    assert.equal(await stop(second, again), 0);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(config);
  }
});

Deno.test("Secrets from the config never reach logs, status, dashboard, metrics, state file, pings or webhooks", async () => {
  const sentinel = "S3NTINEL-s3cret-value";
  const dir = await Deno.makeTempDir();
  const port = freePort();
  const received: string[] = [];
  const receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      received.push(`${new URL(request.url).pathname} ${await request.text()}`);
      return new Response("OK");
    },
  );
  const hook = `http://127.0.0.1:${receiver.addr.port}`;
  const config = await tempConfig(`
status: { listen: "127.0.0.1:${port}", state_file: "${dir}/state.json" }
jobs:
  leaky:
    schedule: "@yearly"
    run_on_start: true
    env: { DB_PASSWORD: "\${SECRET}" }
    shell: 'echo "connecting with $DB_PASSWORD"; echo "url http://admin:$DB_PASSWORD@db:5432" >&2; exit 1'
    ping_url: ${hook}/ping/uuid-ping-secret
    webhook_url: ${hook}/hook
`);
  const child = spawnSnapcron(["run", "--config", config, "--log-format", "json"], {
    SECRET: sentinel,
  });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  let statusText = "";
  let dashboardText = "";
  let metricsText = "";
  try {
    await waitFor(
      "the failed run",
      async () => ((await status(port)).code === 503 ? true : undefined),
    );
    await waitFor(
      "ping and webhook",
      () => Promise.resolve(received.length >= 3 ? true : undefined),
    );
    statusText = JSON.stringify((await status(port)).body);
    const page = await fetch(`http://127.0.0.1:${port}/`, { headers: { accept: "text/html" } });
    dashboardText = await page.text();
    metricsText = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  } finally {
    assert.equal(await stop(child, [stdout, stderr]), 0);
    await receiver.shutdown();
  }
  const outputs: Record<string, string> = {
    logs: stderr.text(),
    status: statusText,
    dashboard: dashboardText,
    "state file": await Deno.readTextFile(`${dir}/state.json`),
    "pings and webhook": received.join("\n"),
  };
  for (const [where, text] of Object.entries(outputs)) {
    assert.ok(text.includes("connecting with ***"), `${where} shows the masked output`);
    assert.ok(!text.includes(sentinel), `${where} leaks the secret`);
  }
  assert.ok(!metricsText.includes(sentinel), "metrics leak the secret");
  assert.ok(!outputs.logs!.includes("uuid-ping-secret"), "the ping URL is a secret too");
  assert.ok(received.some((line) => line.startsWith("/ping/uuid-ping-secret/start")));
  assert.ok(received.some((line) => line.startsWith("/ping/uuid-ping-secret/1 ")));
  assert.ok(received.some((line) => line.startsWith("/hook ")));
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(config);
});

Deno.test("snapcron run serves /metrics and sends DogStatsD datagrams", async () => {
  const { createSocket } = await import("node:dgram");
  const udp = createSocket("udp4");
  const datagrams: string[] = [];
  udp.on("message", (message: Uint8Array) => datagrams.push(new TextDecoder().decode(message)));
  await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
  const udpPort = udp.address().port;
  const port = freePort();
  const config = await tempConfig(`
status: { listen: "127.0.0.1:${port}" }
dogstatsd: { host: 127.0.0.1, port: ${udpPort}, tags: ["env:test"] }
jobs:
  nightly:
    schedule: "@yearly"
    run_on_start: true
    shell: "exit 3"
`);
  const child = spawnSnapcron(["run", "--config", config]);
  const streams = [collect(child.stdout), collect(child.stderr)];
  let metrics = "";
  let contentType = "";
  try {
    await waitFor(
      "the failed run",
      async () => ((await status(port)).code === 503 ? true : undefined),
    );
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    contentType = response.headers.get("content-type") ?? "";
    metrics = await response.text();
    await waitFor(
      "the service check",
      () => Promise.resolve(datagrams.some((d) => d.startsWith("_sc|")) ? true : undefined),
    );
  } finally {
    assert.equal(await stop(child, streams), 0);
    udp.close();
    await Deno.remove(config);
  }
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(metrics, /^snapcron_runs_total\{job="nightly",result="failure"\} 1$/m);
  assert.match(metrics, /^snapcron_last_failure_timestamp_seconds\{job="nightly"\} \d+/m);
  assert.match(metrics, /^snapcron_build_info\{version="0\.1\.0"\} 1$/m);
  assert.ok(
    datagrams.some((d) =>
      /^snapcron\.run\.count:1\|c\|#.*job:nightly/.test(d) && d.includes("env:test")
    ),
  );
  assert.ok(datagrams.some((d) => /^_sc\|snapcron\.job\|2\|/.test(d)), "a CRITICAL service check");
  assert.ok(datagrams.some((d) => d.startsWith("_e{")), "an event for the failure");
});

Deno.test("snapcron once pings like the daemon, for Kubernetes CronJobs", async () => {
  const received: string[] = [];
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    received.push(new URL(request.url).pathname);
    return new Response("OK");
  });
  const config = await tempConfig(`
jobs:
  backup:
    schedule: "@daily"
    command: ["/bin/true"]
    ping_url: http://127.0.0.1:${receiver.addr.port}/ping/abc
`);
  const result = await snapcron(["once", "backup", "--config", config]);
  await receiver.shutdown();
  await Deno.remove(config);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(received, ["/ping/abc/start", "/ping/abc"]);
});
