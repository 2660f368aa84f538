/** Keeps the head and the tail of a stream of text so a chatty job cannot eat memory. */
export class BoundedOutput {
  readonly #limit: number;
  #head = "";
  #tail = "";
  #dropped = 0;

  /** `limit` is the number of characters kept at each end. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Appends a chunk of text. */
  append(text: string): void {
    const room = this.#limit - this.#head.length;
    if (room > 0) {
      this.#head += text.slice(0, room);
      text = text.slice(room);
    }
    if (text.length === 0) return;
    const tail = this.#tail + text;
    if (tail.length > this.#limit) {
      this.#dropped += tail.length - this.#limit;
      this.#tail = tail.slice(tail.length - this.#limit);
    } else {
      this.#tail = tail;
    }
  }

  /** Number of characters dropped between head and tail. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The kept text, with a marker where the middle was dropped. */
  toString(): string {
    if (this.#dropped === 0) return this.#head + this.#tail;
    return `${this.#head}\n[… ${this.#dropped} characters omitted …]\n${this.#tail}`;
  }

  /** The last `n` characters kept (for failure pings and events). */
  last(n: number): string {
    const all = this.#head + this.#tail;
    return all.slice(Math.max(0, all.length - n));
  }
}

/** Splits a stream of decoded chunks into lines, calling `onLine` for each finished one. */
export class LineSplitter {
  #pending = "";
  readonly #onLine: (line: string) => void;

  /** `onLine` receives each line without its newline. */
  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  /** Feeds a chunk. Very long lines are cut at 16 KiB so one line cannot grow unbounded. */
  push(chunk: string): void {
    this.#pending += chunk;
    let index: number;
    while ((index = this.#pending.indexOf("\n")) >= 0) {
      this.#onLine(this.#pending.slice(0, index).replace(/\r$/, ""));
      this.#pending = this.#pending.slice(index + 1);
    }
    while (this.#pending.length > 16384) {
      this.#onLine(this.#pending.slice(0, 16384));
      this.#pending = this.#pending.slice(16384);
    }
  }

  /** Emits the unfinished last line, if any. */
  flush(): void {
    if (this.#pending.length > 0) this.#onLine(this.#pending);
    this.#pending = "";
  }
}
