/** The one seam through which time enters: tests drive a fake, production uses the wall clock. */
export interface Clock {
  now(): Date;
  /**
   * Resolves at or after `date`; rejects with the signal's reason when aborted. `exact` asks for
   * the wake-up to be as close to `date` as the clock can make it (a job's start).
   */
  sleepUntil(date: Date, signal?: AbortSignal, options?: SleepOptions): Promise<void>;
}

/** Options of {@linkcode Clock.sleepUntil}. */
export interface SleepOptions {
  /** Wake on the millisecond rather than whenever the timer gets round to it. */
  exact?: boolean;
}

/** Longest single timer; longer sleeps are chunked so `@yearly` cannot overflow `setTimeout`. */
const MAX_CHUNK_MS = 10_000;

/**
 * How long before an exact wake-up the timer fires. A timer fires 1–4 ms late on an idle machine
 * and up to ~8 ms late with the event loop busy (measured: docs/benchmarks.md, schedule); the
 * rest of the wait blocks the event loop, so this bounds that block too.
 */
const EXACT_EARLY_MS = 8;

/**
 * The wall clock. Sleeps wake at least every 10 s and re-read the time, so a suspend or a
 * clock jump is noticed within seconds instead of after the whole monotonic delay. An exact sleep
 * sets its timer {@linkcode EXACT_EARLY_MS} early and waits out the rest on the millisecond.
 */
export const systemClock: Clock = {
  now: () => new Date(),
  async sleepUntil(date: Date, signal?: AbortSignal, options?: SleepOptions): Promise<void> {
    const early = options?.exact ? EXACT_EARLY_MS : 0;
    for (;;) {
      signal?.throwIfAborted();
      const remaining = date.getTime() - Date.now();
      if (remaining <= 0) return;
      if (remaining <= early) {
        waitExactly(date.getTime());
        continue; // Returns above, unless the clock was set back meanwhile.
      }
      await delay(Math.min(remaining - early, MAX_CHUNK_MS), signal);
    }
  },
};

const waitCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks until `Date.now()` reaches `epochMs` (a few ms at most): `Atomics.wait` sleeps in the
 * kernel to within a millisecond of it, then a spin of under a millisecond finds the tick itself.
 * Timers cannot do this: they fire a millisecond or more late, later when the event loop is busy.
 */
function waitExactly(epochMs: number): void {
  const remaining = epochMs - Date.now();
  // Monotonic, so that a clock set back meanwhile cannot make the spin last.
  const limit = performance.now() + remaining + 1;
  if (remaining > 1) Atomics.wait(waitCell, 0, 0, remaining - 1);
  while (Date.now() < epochMs && performance.now() < limit) {
    // Spin: under a millisecond.
  }
}

/** Waits `ms` milliseconds of real time, abortable. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Sleeps `ms` on `clock`. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return clock.sleepUntil(new Date(clock.now().getTime() + ms), signal);
}

/**
 * A clock that moves only when told. `advance()` wakes sleepers in time order and lets their
 * continuations run, so a test checks a day of schedules in milliseconds.
 */
export class FakeClock implements Clock {
  #now: number;
  #sleepers: { at: number; resolve: () => void }[] = [];

  /** Starts at `start`. */
  constructor(start: Date | string) {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  sleepUntil(date: Date, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (date.getTime() <= this.#now) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const sleeper = {
        at: date.getTime(),
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  /** Number of pending sleepers (for tests that wait until a loop is parked). */
  get sleepers(): number {
    return this.#sleepers.length;
  }

  /** Moves time forward by `ms`, waking each sleeper at its own time, in order. */
  async advance(ms: number): Promise<void> {
    await this.set(new Date(this.#now + ms));
  }

  /**
   * Jumps to `date` at once, as a suspend or a clock step does: every sleeper that is due wakes
   * and sees the new time (a jump backwards wakes nobody).
   */
  async jump(date: Date | string): Promise<void> {
    this.#now = new Date(date).getTime();
    await this.set(date);
  }

  /** Moves time to `date`, waking each sleeper at its own time on the way. */
  async set(date: Date | string): Promise<void> {
    const target = new Date(date).getTime();
    await settle();
    for (;;) {
      this.#sleepers.sort((a, b) => a.at - b.at);
      const first = this.#sleepers[0];
      if (!first || first.at > target) break;
      this.#sleepers.shift();
      this.#now = Math.max(this.#now, first.at);
      first.resolve();
      await settle();
    }
    this.#now = target;
    await settle();
  }
}

/** Lets pending promise continuations and zero-delay timers run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}
