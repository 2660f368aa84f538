import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { commandJob } from "../src/jobs/mod.ts";
import { silentLogger } from "../src/log/mod.ts";
import { type Job, runJob, RunStore } from "../src/runner/mod.ts";
// Until src/status/mod.ts exports it, the renderer is reachable only through its own file.
import { renderDashboard } from "../src/status/mod.ts";
import type { StatusJob } from "../src/status/mod.ts";
import { collect, freePort, spawnSnapcron, tempConfig, waitFor } from "./_cli.ts";

const CHROMIUM = "/usr/bin/chromium";
const LAUNCH = {
  executablePath: CHROMIUM,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};
/** Screenshots for people to look at; `.cache/` is gitignored. */
const ARTIFACTS = new URL("../.cache/test-artifacts/", import.meta.url);
/** Why a browser test cannot run here, or undefined when it can. */
const blocked = await Deno.stat(CHROMIUM).then(
  () => undefined,
  () =>
    `"${CHROMIUM}" not found: install Debian's chromium ` +
    "(apt-get update && apt-get install -y chromium)",
);

/** Registers a test that gets a fresh headless Chromium, or says why it cannot. */
function browserTest(
  name: string,
  fn: (browser: Browser) => Promise<void>,
  options: { ignore?: boolean } = {},
): void {
  if (options.ignore) {
    Deno.test({ name, ignore: true, fn: () => {} });
  } else if (blocked && Deno.env.get("CI") === "true") {
    Deno.test(name, () => {
      throw new Error(`Cannot run a browser test: ${blocked}`);
    });
  } else if (blocked) {
    Deno.test({ name: `${name} (ignored: ${blocked})`, ignore: true, fn: () => {} });
  } else {
    Deno.test({
      name,
      // The sanitizers stay on: browser.close() ends Chromium and its pipes within the test.
      fn: async () => {
        // playwright-core's bundled is-wsl looks under /proc/sys when the module loads, which
        // Deno allows only with --allow-all (even to see that the file is missing). Its own test
        // switch defers that check to the code that opens desktop apps, which headless Chromium
        // never reaches; so the test runs with the permissions of `deno task test`.
        Deno.env.set("__IS_WSL_TEST__", "1");
        const { chromium } = await import("playwright-core")
          .finally(() => Deno.env.delete("__IS_WSL_TEST__"));
        const browser = await chromium.launch(LAUNCH);
        try {
          await fn(browser);
        } finally {
          await browser.close();
        }
      },
    });
  }
}

interface RowStyle {
  job: string;
  state: string;
  background: string;
  border: string;
  badge: string;
}

// A string, not a function: the test is type-checked without the DOM library.
const ROW_STYLES = `[...document.querySelectorAll("tr[data-job]")].map((row) => ({
  job: row.dataset.job,
  state: row.dataset.state,
  background: getComputedStyle(row).backgroundColor,
  border: getComputedStyle(row.cells[0]).borderLeftColor,
  badge: getComputedStyle(row.querySelector(".badge")).backgroundColor,
}))`;

function rgb(colour: string): [number, number, number] {
  const match = /^rgba?\((\d+), (\d+), (\d+)/.exec(colour);
  assert.ok(match, `a computed colour, got "${colour}"`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/** Asserts that a computed colour has a red or green hue and is not grey. */
function assertHue(colour: string, hue: "red" | "green", what: string): void {
  const [r, g, b] = rgb(colour);
  const max = Math.max(r, g, b);
  const chroma = max - Math.min(r, g, b);
  let degrees = Number.NaN;
  if (chroma >= 8) {
    if (max === r) degrees = (60 * ((g - b) / chroma) + 360) % 360;
    else if (max === g) degrees = 60 * ((b - r) / chroma + 2);
    else degrees = 60 * ((r - g) / chroma + 4);
  }
  const ok = hue === "red" ? degrees <= 20 || degrees >= 340 : degrees >= 90 && degrees <= 150;
  assert.ok(ok, `${what} is ${hue}, got ${colour} (hue ${Math.round(degrees)}°)`);
}

/** Checks the page of a passing job "good" and a failing job "bad", then saves a screenshot. */
async function checkDashboard(page: Page, screenshot: string): Promise<void> {
  assert.deepEqual(await page.title(), "snapcron", "the <script> in the output did not run");
  const rows = await page.evaluate(ROW_STYLES) as RowStyle[];
  const good = rows.find((row) => row.job === "good");
  const bad = rows.find((row) => row.job === "bad");
  assert.ok(good && bad, `both jobs are listed: ${JSON.stringify(rows)}`);
  assert.deepEqual(good.state, "ok");
  assert.deepEqual(bad.state, "failed");
  for (const [row, hue] of [[good, "green"], [bad, "red"]] as const) {
    assertHue(row.border, hue, `the border of "${row.job}"`);
    assertHue(row.background, hue, `the background of "${row.job}"`);
    assertHue(row.badge, hue, `the badge of "${row.job}"`);
  }
  assert.match(await page.locator('tr[data-job="bad"] .badge').innerText(), /failed/);
  assert.match(await page.locator("#health").innerText(), /1 failing/);

  const output = await page.locator('tr[data-output-of="bad"] pre').first().innerText();
  assert.match(output, /^bad\n<script>document\.title="pwned"<\/script>$/);
  assert.deepEqual(await page.locator('tr[data-output-of="good"]').count(), 0);
  // Every-second jobs: the strip may end with the run in progress; its last finished run failed.
  const runs = page.locator('tr[data-job="bad"] .run:not(.info)');
  assert.ok(await runs.count() >= 2, "the strip shows recent runs");
  assert.match(await runs.last().getAttribute("title") ?? "", /Z: failure, exit 3$/);

  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: fileURLToPath(new URL(screenshot, ARTIFACTS)), fullPage: true });
}

const BAD_SHELL = `echo bad >&2; echo '<script>document.title="pwned"</script>' >&2; exit 3`;

browserTest(
  "Chromium shows the dashboard's failing job in red and the passing one in green",
  async (
    browser,
  ) => {
    const log = silentLogger();
    const store = new RunStore();
    const good = commandJob("good", { argv: ["/bin/echo", "ok"] });
    const bad = commandJob("bad", { shell: BAD_SHELL });
    for (let i = 0; i < 3; i++) {
      for (const job of [good, bad]) {
        store.finish(
          await runJob(job, { log, trigger: "schedule", onUpdate: (r) => store.update(r) }),
        );
      }
    }
    // A run in progress that reports progress, so the screenshot shows that part too.
    const stop = new AbortController();
    const dump: Job = {
      name: "dump",
      kind: "command",
      run: async (ctx) => {
        ctx.progress({ bytes: 3 * 1024 ** 2, totalBytes: 8 * 1024 ** 2, done: 3, total: 8 });
        ctx.progress({ percent: 37.5 });
        await new Promise((resolve) =>
          ctx.signal.addEventListener("abort", resolve, { once: true })
        );
        return { exitStatus: 143, error: "Cancelled" };
      },
    };
    const dumping = runJob(dump, { log, signal: stop.signal, onUpdate: (r) => store.update(r) });
    const jobs: StatusJob[] = ["good", "bad", "dump"].map((name) => ({
      name,
      kind: "command",
      schedule: name === "dump" ? "@daily" : "* * * * * *",
      timezone: "UTC",
      next: new Date(Date.now() + 1000),
    }));
    const source = { jobs: () => jobs, history: (name: string) => store.get(name) };
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () =>
        new Response(renderDashboard(source, { now: new Date(), version: "test" }), {
          headers: { "content-type": "text/html; charset=utf-8" },
        }),
    );
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      await page.goto(`http://127.0.0.1:${server.addr.port}/`);
      await checkDashboard(page, "dashboard.png");
      assert.deepEqual(
        await page.locator('tr[data-job="dump"]').getAttribute("data-state"),
        "running",
      );
      assert.match(
        await page.locator('tr[data-job="dump"]').innerText(),
        /38% · 3\.0 MiB of 8\.0 MiB/,
      );
    } finally {
      stop.abort();
      store.finish(await dumping);
      await server.shutdown();
    }
  },
);

browserTest("snapcron run serves the dashboard to Chromium", async (browser) => {
  const port = freePort();
  const config = await tempConfig(`
status:
  listen: "127.0.0.1:${port}"
shutdown_grace: 5s
jobs:
  good:
    schedule: "* * * * * *"
    command: ["/bin/echo", "ok"]
  bad:
    schedule: "* * * * * *"
    shell: ${JSON.stringify(BAD_SHELL)}
`);
  const child = spawnSnapcron(["run", "--config", config]);
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitFor("both jobs to finish two runs", async () => {
      const jobs: { history: unknown[] }[] = await (await fetch(`${base}/jobs`)).json();
      return jobs.length === 2 && jobs.every((job) => job.history.length >= 2) ? true : undefined;
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const response = await page.goto(`${base}/`);
    assert.match(response?.headers()["content-type"] ?? "", /^text\/html/);
    await checkDashboard(page, "dashboard_snapcron.png");
  } finally {
    child.kill("SIGTERM");
    await Promise.all([child.status, stdout.done, stderr.done]);
    await Deno.remove(config);
  }
  const status = await child.status;
  assert.deepEqual(status.code, 0, `snapcron exits 0 on SIGTERM:\n${stderr.text()}`);
});
