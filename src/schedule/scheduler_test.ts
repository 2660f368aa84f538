import assert from "node:assert/strict";
import { createLogger, silentLogger } from "../log/mod.ts";
import { FakeClock, settle } from "../runner/mod.ts";
import { type DueRun, parseSchedule, type ScheduledJob, Scheduler } from "./mod.ts";
import { jitterFor, PREPARE_MS } from "./_scheduler.ts";

interface Fired {
  job: string;
  at: string;
  scheduledAt: string;
  trigger: string;
}

function harness(jobs: ScheduledJob[], start: string, logLines: string[] = []) {
  const clock = new FakeClock(start);
  const fired: Fired[] = [];
  const skipped: string[] = [];
  const scheduler = new Scheduler(jobs, {
    clock,
    log: createLogger({ write: (line) => logLines.push(line) }),
    onDue: (job: ScheduledJob, run: DueRun) =>
      fired.push({
        job: job.name,
        at: clock.now().toISOString(),
        scheduledAt: run.scheduledAt.toISOString(),
        trigger: run.trigger,
      }),
    onSkip: (_job, reason) => skipped.push(reason),
  });
  scheduler.start();
  return { clock, fired, skipped, scheduler };
}

function job(name: string, text: string, extra: Partial<ScheduledJob> = {}): ScheduledJob {
  return {
    name,
    schedule: parseSchedule(text, { timezone: extra.schedule?.timezone ?? "UTC" }),
    ...extra,
  };
}

Deno.test("Scheduler fires every slot of a day under a fake clock, on time", async () => {
  const { clock, fired, scheduler } = harness(
    [job("five", "0 */5 * * * *")],
    "2026-01-01T00:00:00Z",
  );
  await clock.advance(86_400_000);
  await scheduler.close();
  assert.equal(fired.length, 288);
  assert.equal(fired[0]!.scheduledAt, "2026-01-01T00:05:00.000Z");
  assert.ok(fired.every((run) => run.at === run.scheduledAt && run.trigger === "schedule"));
  assert.equal(fired.at(-1)!.scheduledAt, "2026-01-02T00:00:00.000Z");
});

Deno.test("Scheduler runs several jobs each on its own schedule", async () => {
  const { clock, fired, scheduler } = harness(
    [job("ten", "0/10 * * * * *"), job("minute", "0 * * * * *")],
    "2026-01-01T00:00:00Z",
  );
  await clock.advance(120_000);
  await scheduler.close();
  assert.equal(fired.filter((run) => run.job === "ten").length, 12);
  assert.equal(fired.filter((run) => run.job === "minute").length, 2);
});

Deno.test("Scheduler runs once, late, after a suspend instead of a catch-up storm", async () => {
  const lines: string[] = [];
  const { clock, fired, scheduler } = harness(
    [job("m", "0 * * * * *")],
    "2026-01-01T00:00:30Z",
    lines,
  );
  await settle();
  // Jump three hours at once, as after a laptop suspend.
  await clock.jump("2026-01-01T03:00:30Z");
  await scheduler.close();
  assert.equal(fired.length, 1);
  assert.equal(fired[0]!.scheduledAt, "2026-01-01T03:00:00.000Z");
  assert.equal(fired[0]!.trigger, "late");
  assert.ok(lines.some((line) => line.includes("Missed 179 earlier run times")));
});

Deno.test("Scheduler skips a late run past starting_deadline, with a reason", async () => {
  const { clock, fired, skipped, scheduler } = harness(
    [job("m", "0 0 * * * *", { startingDeadlineMs: 60_000 })],
    "2026-01-01T00:30:00Z",
  );
  await settle();
  await clock.jump("2026-01-01T01:05:00Z");
  assert.equal(fired.length, 0);
  assert.equal(skipped.length, 1);
  assert.match(skipped[0]!, /300s late, past starting_deadline/);
  await clock.set("2026-01-01T02:00:00Z");
  await scheduler.close();
  assert.equal(fired.length, 1, "the next slot runs normally");
});

Deno.test("Scheduler never fires a slot twice when the clock goes back", async () => {
  const { clock, fired, scheduler } = harness([job("m", "0 * * * * *")], "2026-01-01T00:00:30Z");
  await clock.set("2026-01-01T00:01:30Z");
  assert.equal(fired.length, 1);
  await clock.jump("2026-01-01T00:00:40Z");
  await clock.set("2026-01-01T00:01:59Z");
  assert.equal(fired.length, 1, "00:01:00 did not fire again");
  await clock.set("2026-01-01T00:02:00Z");
  await scheduler.close();
  assert.equal(fired.length, 2);
});

Deno.test("Scheduler applies a stable jitter within bounds", async () => {
  const jobs = [job("j", "0 0 * * * *", { jitterMs: 600_000 })];
  const { clock, fired, scheduler } = harness(jobs, "2026-01-01T00:00:00Z");
  await clock.advance(5 * 3_600_000 + 600_000);
  await scheduler.close();
  assert.equal(fired.length, 5);
  const offsets = fired.map((run) => Date.parse(run.at) - Date.parse(run.scheduledAt));
  assert.ok(offsets.every((ms) => ms >= 0 && ms < 600_000));
  assert.ok(new Set(offsets).size > 1, "slots get different offsets");
  const again = fired.map((run) => jitterFor(jobs[0]!, new Date(run.scheduledAt)));
  assert.deepEqual(again, offsets, "the offset of a slot is the same every time");
  assert.equal(jitterFor({ name: "j" }, new Date()), 0);
});

Deno.test("Scheduler runs a job on start when asked", async () => {
  const { clock, fired, scheduler } = harness(
    [job("s", "@daily", { runOnStart: true })],
    "2026-01-01T10:00:00Z",
  );
  await settle();
  assert.equal(fired.length, 1);
  assert.equal(fired[0]!.trigger, "start");
  await clock.advance(3_600_000);
  await scheduler.close();
  assert.equal(fired.length, 1);
});

Deno.test("Scheduler across spring forward in Berlin runs the 02:30 slot once, with a log line", async () => {
  const lines: string[] = [];
  const berlin = parseSchedule("0 30 2 * * *", { timezone: "Europe/Berlin" });
  const { clock, fired, scheduler } = harness(
    [{ name: "b", schedule: berlin }],
    "2026-03-27T12:00:00Z",
    lines,
  );
  await clock.set("2026-03-31T12:00:00Z");
  await scheduler.close();
  assert.deepEqual(fired.map((run) => run.scheduledAt), [
    "2026-03-28T01:30:00.000Z", // 02:30 CET
    "2026-03-29T01:00:00.000Z", // 02:30 does not exist: 03:00 CEST
    "2026-03-30T00:30:00.000Z", // 02:30 CEST
    "2026-03-31T00:30:00.000Z",
  ]);
  assert.ok(lines.some((line) => line.includes("does not exist")), "the moved slot is logged");
});

Deno.test("Scheduler across fall back in Berlin runs a wall-clock slot once, an interval in both passes", async () => {
  const daily = parseSchedule("0 30 2 * * *", { timezone: "Europe/Berlin" });
  const quarter = parseSchedule("0 */15 * * * *", { timezone: "Europe/Berlin" });
  const { clock, fired, scheduler } = harness(
    [{ name: "daily", schedule: daily }, { name: "quarter", schedule: quarter }],
    "2026-10-24T22:00:00Z",
    [],
  );
  await clock.set("2026-10-25T03:00:00Z");
  await scheduler.close();
  assert.deepEqual(fired.filter((run) => run.job === "daily").map((run) => run.scheduledAt), [
    "2026-10-25T00:30:00.000Z", // first 02:30 (CEST)
  ]);
  // 22:00Z to 03:00Z is 5 real hours: 20 quarter-hour runs, both passes of 02:xx included.
  const quarters = fired.filter((run) => run.job === "quarter");
  assert.equal(quarters.length, 20);
  assert.equal(new Set(quarters.map((run) => run.scheduledAt)).size, 20);
});

Deno.test("Scheduler.close() can be called twice and stops firing", async () => {
  const { clock, fired, scheduler } = harness([job("x", "* * * * * *")], "2026-01-01T00:00:00Z");
  await clock.advance(3000);
  await scheduler.close();
  await scheduler.close();
  const count = fired.length;
  await clock.advance(3000);
  assert.equal(fired.length, count);
  void silentLogger;
});

Deno.test("Scheduler asks for each start to be prepared shortly before its slot", async () => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");
  const events: string[] = [];
  const scheduler = new Scheduler([job("tick", "0/10 * * * * *")], {
    clock,
    log: silentLogger(),
    onPrepare: (job) => events.push(`prepare ${job.name} ${clock.now().toISOString()}`),
    onDue: (job, run) => events.push(`due ${job.name} ${run.scheduledAt.toISOString()}`),
  });
  scheduler.start();
  await clock.advance(25_000);
  await scheduler.close();
  const before = (at: string) => new Date(Date.parse(at) - PREPARE_MS).toISOString();
  assert.deepEqual(events, [
    `prepare tick ${before("2026-01-01T00:00:10Z")}`,
    "due tick 2026-01-01T00:00:10.000Z",
    `prepare tick ${before("2026-01-01T00:00:20Z")}`,
    "due tick 2026-01-01T00:00:20.000Z",
  ]);
});
