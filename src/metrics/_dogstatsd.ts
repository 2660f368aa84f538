import type { Socket } from "node:dgram";
import type { Logger } from "../log/mod.ts";
import type { RunEvent, RunRecord, RunStore } from "../runner/mod.ts";

/** Options of {@linkcode DogStatsD}. */
export interface DogStatsDOptions {
  /** Agent host: IPv4 or IPv6 address, or a name resolving to IPv4; default "127.0.0.1". */
  host?: string;
  /** Agent UDP port; default 8125. */
  port?: number;
  /** Put before every metric and service check name; default "snapcron.". */
  prefix?: string;
  /** Tags added to everything sent, e.g. `["env:prod"]`. */
  tags?: string[];
  log: Logger;
  /** Clock for rate-limiting send warnings; tests pass a fixed one. */
  now?: () => Date;
}

/** The agent's default receive buffer is 8192 bytes; stay below it with room to spare. */
export const MAX_DATAGRAM_BYTES = 8000;

/** A broken agent logs one warning per interval, the rest at debug. */
const WARN_INTERVAL_MS = 60_000;

/** Datagrams waiting while one is in flight; beyond this the agent is not keeping up. */
const MAX_QUEUE = 1000;

/** How long `close()` waits for queued datagrams. */
const CLOSE_TIMEOUT_MS = 1000;

/** Service check status codes. */
const OK = 0;
const CRITICAL = 2;

const PREFIX_PATTERN = /^[A-Za-z0-9_.-]*$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function byteLength(text: string): number {
  return encoder.encode(text).length;
}

/** The first `max` UTF-8 bytes of `text`, never splitting a character. */
function headBytes(text: string, max: number): string {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return text;
  let end = Math.max(0, max);
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return decoder.decode(bytes.subarray(0, end));
}

/** The last `max` UTF-8 bytes of `text`, never splitting a character. */
function tailBytes(text: string, max: number): string {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return text;
  let start = bytes.length - Math.max(0, max);
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
  return decoder.decode(bytes.subarray(start));
}

/** DogStatsD splits on `,`, `|` and `#`; Datadog turns other odd characters into `_` anyway. */
function tagValue(value: string): string {
  return value.replace(/[^\p{L}\p{N}_./-]/gu, "_");
}

/** A configured tag keeps its `key:value` colon. */
function configTag(tag: string): string {
  return tag.trim().replace(/[^\p{L}\p{N}_./:-]/gu, "_");
}

/** Newlines become the `\n` the agent expands again; nothing else needs escaping in event text. */
function escapeNewlines(text: string): string {
  return text.replace(/\r?\n|\r/g, "\\n");
}

function lastLine(text: string): string {
  const lines = text.split(/\r?\n|\r/).filter((line) => line.trim() !== "");
  return lines.at(-1)?.trim() ?? "";
}

function durationMs(record: RunRecord): number | undefined {
  return record.endedAt ? record.endedAt.getTime() - record.startedAt.getTime() : undefined;
}

/** One line on how the run ended: "exit status 3", "Timed out after 5m (exit status 124)". */
function runSummary(record: RunRecord): string {
  const status = `exit status ${record.exitStatus ?? (record.result === "success" ? 0 : 1)}`;
  if (record.result === "success" || record.result === "failure" || record.result === undefined) {
    return status;
  }
  return `${record.error ?? record.result} (${status})`;
}

/** The service check message: summary, then the last line of standard error on failure. */
function checkMessage(record: RunRecord): string {
  const detail = record.result === "success" ? "" : lastLine(record.stderr);
  const message = detail ? `${runSummary(record)}: ${detail}` : runSummary(record);
  // `m:` is the last field, so a `|` or a newline would end it early; datadog-go escapes `m:`.
  return headBytes(
    escapeNewlines(message).replaceAll("|", "¦").replaceAll("m:", "m\\:"),
    1024,
  );
}

function eventTitle(record: RunRecord): string {
  const verb = record.result === "timeout"
    ? "timed out"
    : record.result === "cancelled"
    ? "was cancelled"
    : "failed";
  return headBytes(escapeNewlines(`snapcron job "${record.job}" ${verb}`), 512);
}

/** Summary and as many of the last output lines as fit in `budget` bytes (escaped). */
function eventText(record: RunRecord, budget: number): string {
  const summary = headBytes(escapeNewlines(runSummary(record)), Math.min(1024, budget));
  const output = (record.stderr.trim() !== "" ? record.stderr : record.stdout).trimEnd();
  if (output === "") return headBytes(summary, budget);
  const lines = output.split(/\r?\n|\r/);
  const marker = "…";
  let room = budget - byteLength(summary) - 2 * byteLength("\\n") - byteLength(marker);
  const kept: string[] = [];
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? "";
    const size = byteLength(line) + (kept.length > 0 ? 2 : 0);
    if (size > room) {
      // A single huge last line still shows its end.
      if (kept.length === 0) kept.unshift(tailBytes(line, room));
      break;
    }
    kept.unshift(line);
    room -= size;
  }
  const trimmed = kept.length < lines.length || kept[0] !== lines[0];
  return [summary, ...(trimmed ? [marker] : []), ...kept].join("\\n");
}

/**
 * Sends run metrics, a service check and failure events to a DogStatsD agent over UDP.
 * Sending never throws into a run nor waits on the agent; failures are logged, rate-limited.
 */
export class DogStatsD {
  // node:dgram loads with the first DogStatsD client: a daemon without one never starts Deno's
  // Node.js layer (about 4 MiB of idle memory).
  readonly #socket: Promise<Socket>;
  readonly #host: string;
  readonly #port: number;
  readonly #prefix: string;
  readonly #tags: string[];
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #detachers = new Set<() => void>();
  readonly #queue: Uint8Array[] = [];
  #sending = false;
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;
  #warnedAt = -Infinity;
  #suppressed = 0;

  /** Opens the UDP socket; nothing is sent until a store is attached. */
  constructor(options: DogStatsDOptions) {
    const host = options.host ?? "127.0.0.1";
    const port = options.port ?? 8125;
    const prefix = options.prefix ?? "snapcron.";
    if (host.trim() === "") {
      throw new RangeError('Invalid DogStatsD host "": give a host name or address');
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`Invalid DogStatsD port "${port}": use a number from 1 to 65535`);
    }
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new RangeError(
        `Invalid DogStatsD prefix "${prefix}": use only letters, digits, "_", "-" and "."`,
      );
    }
    this.#host = host;
    this.#port = port;
    this.#prefix = prefix;
    this.#tags = (options.tags ?? []).map(configTag).filter((tag) => tag !== "");
    this.#log = options.log;
    this.#now = options.now ?? (() => new Date());
    // Node's UDP socket needs no unstable flag, unlike Deno.listenDatagram. Only an IPv6
    // address holds a ":".
    this.#socket = import("node:dgram").then(({ createSocket }) => {
      const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
      socket.on("error", (error) => this.#failed(error));
      // An idle metrics socket must not keep a finished `snapcron once` alive.
      socket.unref();
      return socket;
    });
  }

  /** Sends metrics for the runs of `store` from now on; returns the detach function. */
  attach(store: RunStore): () => void {
    if (this.#closing) return () => {};
    const unsubscribe = store.subscribe((event) => this.#onEvent(store, event));
    const detach = (): void => {
      unsubscribe();
      this.#detachers.delete(detach);
    };
    this.#detachers.add(detach);
    return detach;
  }

  /**
   * Detaches from every store, lets queued datagrams go (at most a second) and closes the
   * socket; safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    for (const detach of [...this.#detachers]) detach();
    if (this.#sending) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#drained = resolve),
        new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)),
      ]);
      clearTimeout(timer);
    }
    this.#closed = true;
    if (this.#queue.length > 0) {
      this.#log.debug("Dropping DogStatsD datagrams at close", { dropped: this.#queue.length });
      this.#queue.length = 0;
    }
    try {
      (await this.#socket).close();
    } catch (error) {
      this.#log.debug("Cannot close the DogStatsD socket", { error });
    }
  }

  #onEvent(store: RunStore, event: RunEvent): void {
    if (event.type === "update") return;
    if (event.type === "skip") {
      this.#send(`${this.#prefix}run.skipped:1|c|${this.#tagsFor(event.job)}`);
      return;
    }
    const record = event.record;
    const running = store.get(record.job)?.running.length ?? 0;
    if (event.type === "start") {
      this.#send(`${this.#prefix}running:${running}|g|${this.#tagsFor(record.job)}`);
      return;
    }
    this.#finished(record, running);
  }

  #finished(record: RunRecord, running: number): void {
    const result = record.result ?? "failure";
    const jobTags = this.#tagsFor(record.job);
    const resultTags = this.#tagsFor(record.job, result);
    this.#send(`${this.#prefix}run.count:1|c|${resultTags}`);
    const ms = durationMs(record);
    if (ms !== undefined) this.#send(`${this.#prefix}run.duration:${ms}|ms|${resultTags}`);
    if (result === "success") {
      const bytes = record.artifacts.reduce((sum, artifact) => sum + (artifact.size ?? 0), 0);
      if (bytes > 0) this.#send(`${this.#prefix}backup.bytes:${bytes}|c|${jobTags}`);
    }
    this.#send(`${this.#prefix}running:${running}|g|${jobTags}`);
    const status = result === "success" ? OK : CRITICAL;
    const at = Math.floor((record.endedAt ?? this.#now()).getTime() / 1000);
    this.#send(
      `_sc|${this.#prefix}job|${status}|d:${at}|${jobTags}|m:${checkMessage(record)}`,
    );
    if (result !== "success") this.#send(this.#event(record, resultTags));
  }

  #event(record: RunRecord, tags: string): string {
    const title = eventTitle(record);
    const titleBytes = byteLength(title);
    // Room for the text once the header (lengths at their widest), title and tags are counted.
    const fixed = byteLength(`_e{${titleBytes},${MAX_DATAGRAM_BYTES}}:${title}||t:error|${tags}`);
    const text = eventText(record, MAX_DATAGRAM_BYTES - fixed);
    return `_e{${titleBytes},${byteLength(text)}}:${title}|${text}|t:error|${tags}`;
  }

  #tagsFor(job: string, result?: string): string {
    const tags = [`job:${tagValue(job)}`];
    if (result !== undefined) tags.push(`result:${tagValue(result)}`);
    return `#${[...tags, ...this.#tags].join(",")}`;
  }

  #send(datagram: string): void {
    if (this.#closed) return;
    if (this.#queue.length >= MAX_QUEUE) {
      this.#failed(new Error(`${MAX_QUEUE} datagrams waiting, dropping the newest`));
      return;
    }
    this.#queue.push(encoder.encode(datagram));
    if (!this.#sending) {
      this.#sending = true;
      this.#socket.then((socket) => this.#pump(socket));
    }
  }

  /** One datagram in flight at a time: Deno's `node:dgram` does not keep the order otherwise. */
  #pump(socket: Socket): void {
    while (!this.#closed) {
      const next = this.#queue.shift();
      if (next === undefined) break;
      try {
        socket.send(next, this.#port, this.#host, (error) => {
          if (error) this.#failed(error);
          this.#pump(socket);
        });
        return;
      } catch (error) {
        this.#failed(error);
      }
    }
    this.#sending = false;
    this.#drained?.();
  }

  #failed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const now = this.#now().getTime();
    if (now - this.#warnedAt < WARN_INTERVAL_MS) {
      this.#suppressed++;
      this.#log.debug("Cannot send to DogStatsD", { error: message });
      return;
    }
    this.#log.warn(
      `Cannot send to DogStatsD "${this.#host}:${this.#port}": ${message} ` +
        "(is the Datadog agent running? further failures are logged at debug for a minute)",
      this.#suppressed > 0 ? { suppressed: this.#suppressed } : {},
    );
    this.#warnedAt = now;
    this.#suppressed = 0;
  }
}
