/** One abort signal for a request: fires when the caller aborts or a re-armable timer runs out. */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort = (): void => this.#controller.abort(this.#caller?.reason);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timedOut = false;

  constructor(caller: AbortSignal | undefined) {
    this.#caller = caller;
    if (caller === undefined) return;
    if (caller.aborted) this.#onCallerAbort();
    else caller.addEventListener("abort", this.#onCallerAbort, { once: true });
  }

  /** The signal to hand to `fetch`. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True once the timer ran out (and so aborted the signal). */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** True when the caller's signal aborted. */
  get callerAborted(): boolean {
    return this.#caller?.aborted === true;
  }

  /** Starts (or restarts) the timer. */
  arm(timeoutMs: number): void {
    this.disarm();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timedOut = true;
      this.#controller.abort(new DOMException(`No answer within ${timeoutMs} ms`, "TimeoutError"));
    }, timeoutMs);
  }

  /** Stops the timer. */
  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Aborts the signal (to drop the connection). */
  abort(reason?: unknown): void {
    this.#controller.abort(reason);
  }

  /** Stops the timer and stops listening to the caller's signal. */
  dispose(): void {
    this.disarm();
    this.#caller?.removeEventListener("abort", this.#onCallerAbort);
  }
}
