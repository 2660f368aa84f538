import assert from "node:assert/strict";
import { FakeClock, systemClock } from "./mod.ts";

Deno.test("systemClock.sleepUntil() a year ahead does not fire early (no setTimeout overflow)", async () => {
  const controller = new AbortController();
  let woke = false;
  const sleeping = systemClock.sleepUntil(
    new Date(Date.now() + 365 * 86_400_000),
    controller.signal,
  )
    .then(() => woke = true, () => {});
  // A single setTimeout over 2^31-1 ms fires after 1 ms; give it ample time to misfire.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(woke, false);
  controller.abort();
  await sleeping;
});

Deno.test("systemClock.sleepUntil() wakes at the time and rejects when aborted", async () => {
  const start = Date.now();
  await systemClock.sleepUntil(new Date(start + 50));
  assert.ok(Date.now() - start >= 49);
  const controller = new AbortController();
  const sleeping = systemClock.sleepUntil(new Date(Date.now() + 60_000), controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(sleeping, /stop/);
});

Deno.test("systemClock.sleepUntil() exact never wakes before the time, and aborts", async () => {
  for (const ms of [3, 20, 45]) {
    const target = Date.now() + ms;
    await systemClock.sleepUntil(new Date(target), undefined, { exact: true });
    assert.ok(Date.now() >= target, `woke ${target - Date.now()} ms early`);
  }
  const controller = new AbortController();
  const sleeping = systemClock.sleepUntil(new Date(Date.now() + 60_000), controller.signal, {
    exact: true,
  });
  controller.abort(new Error("stop"));
  await assert.rejects(sleeping, /stop/);
});

Deno.test("FakeClock wakes sleepers in time order and jumps", async () => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");
  const woke: string[] = [];
  clock.sleepUntil(new Date("2026-01-01T00:00:20Z")).then(() =>
    woke.push(`b@${clock.now().toISOString()}`)
  );
  clock.sleepUntil(new Date("2026-01-01T00:00:10Z")).then(() =>
    woke.push(`a@${clock.now().toISOString()}`)
  );
  await clock.advance(15_000);
  assert.deepEqual(woke, ["a@2026-01-01T00:00:10.000Z"]);
  await clock.jump("2026-01-01T01:00:00Z");
  assert.deepEqual(woke, ["a@2026-01-01T00:00:10.000Z", "b@2026-01-01T01:00:00.000Z"]);
});
