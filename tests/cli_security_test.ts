import assert from "node:assert/strict";
import { collect, freePort, spawnSnapcron, tempConfig, waitFor } from "./_cli.ts";

Deno.test("status token: run now, pause and resume over a real socket, logged without the token", async () => {
  const port = freePort();
  const config = await tempConfig(`
status: { listen: "127.0.0.1:${port}", token: "\${STATUS_TOKEN}" }
jobs:
  yearly:
    schedule: "@yearly"
    command: ["/bin/echo", "ran on demand"]
  ticking:
    schedule: "* * * * * *"
    command: ["/bin/true"]
`);
  const token = "tok-0123456789abcdef";
  const child = spawnSnapcron(["run", "--config", config], { STATUS_TOKEN: token });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const base = `http://127.0.0.1:${port}`;
  const post = (path: string, bearer?: string) =>
    fetch(`${base}${path}`, {
      method: "POST",
      ...(bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {}),
    }).then(async (response) => ({ status: response.status, body: await response.json() }));
  const job = (name: string) => fetch(`${base}/jobs/${name}`).then((response) => response.json());
  try {
    await waitFor("the status server", () => job("yearly"));
    assert.equal((await post("/jobs/yearly/run")).status, 401);
    const run = await post("/jobs/yearly/run", token);
    assert.equal(run.status, 202);
    const ran = await waitFor("the on-demand run", async () => {
      const body = await job("yearly");
      return body.history.length > 0 ? body : undefined;
    });
    assert.equal(ran.history[0].trigger, "manual");
    assert.equal(ran.Last.Stdout, "ran on demand\n");

    assert.equal((await post("/jobs/ticking/pause", token)).status, 200);
    const paused = await job("ticking");
    assert.equal(paused.paused, true);
    const before = paused.history.length;
    await waitFor(
      "a skipped slot",
      async () => ((await job("ticking")).skipped_runs > 0 ? true : undefined),
    );
    assert.ok((await job("ticking")).history.length <= before + 1, "no run started while paused");
    assert.equal((await post("/jobs/ticking/resume", token)).status, 200);
    await waitFor(
      "runs again",
      async () => ((await job("ticking")).history.length > before + 1 ? true : undefined),
    );
  } finally {
    child.kill("SIGTERM");
  }
  await child.status;
  await Promise.all([stdout.done, stderr.done]);
  await Deno.remove(config);
  assert.match(stderr.text(), /Refused a status action: missing or wrong token/);
  assert.match(stderr.text(), /Status action: run/);
  assert.ok(!stderr.text().includes(token), "the token never reaches the log");
});
