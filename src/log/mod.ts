/**
 * Structured logger: readable text on a terminal, JSON lines for machines, and redaction of
 * secrets registered at start-up so a password never reaches a log line.
 */

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** Output format of the logger. */
export type LogFormat = "text" | "json";
/** Extra structured fields of one log line. */
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  format?: LogFormat;
  level?: LogLevel;
  /** Receives each finished line, newline included; defaults to standard error. */
  write?: (line: string) => void;
  /** Masks secrets in each line; see {@linkcode createRedactor}. */
  redact?: (text: string) => string;
  /** Clock for timestamps; tests pass a fixed one. */
  now?: () => Date;
}

/** A logger bound to fixed fields (for example the job name). */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  with(fields: LogFields): Logger;
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line));
}

/** Creates a logger writing text or JSON lines. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? "text";
  const min = LEVELS[options.level ?? "info"];
  const write = options.write ?? writeStderr;
  const redact = options.redact ?? createRedactor([]);
  const now = options.now ?? (() => new Date());

  function emit(level: LogLevel, message: string, fields: LogFields): void {
    if (LEVELS[level] < min) return;
    const time = now().toISOString();
    let line: string;
    if (format === "json") {
      line = JSON.stringify({ time, level, msg: message, ...fields }, jsonReplacer);
    } else {
      const job = typeof fields.job === "string" ? `[${fields.job}] ` : "";
      const rest = Object.entries(fields)
        .filter(([key, value]) => key !== "job" && value !== undefined)
        .map(([key, value]) => `${key}=${formatValue(value)}`)
        .join(" ");
      line = `${time} ${level.toUpperCase().padEnd(5)} ${job}${message}${rest ? " " + rest : ""}`;
    }
    write(redact(line) + "\n");
  }

  function bind(bound: LogFields): Logger {
    return {
      debug: (message, fields) => emit("debug", message, { ...bound, ...fields }),
      info: (message, fields) => emit("info", message, { ...bound, ...fields }),
      warn: (message, fields) => emit("warn", message, { ...bound, ...fields }),
      error: (message, fields) => emit("error", message, { ...bound, ...fields }),
      with: (fields) => bind({ ...bound, ...fields }),
    };
  }
  return bind({});
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === "bigint") return value.toString();
  return value;
}

function formatValue(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "string") return /^[\w.:/@+-]*$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value, jsonReplacer) ?? String(value);
}

/** Credentials inside URLs: `scheme://user:password@host`. */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/?#\s]+@/gi;

/**
 * The one redaction step every output passes through (logs, run records and so status,
 * dashboard, state file, pings and webhooks): masks each known secret and the password part of
 * URLs with credentials as `***`. Secrets shorter than 4 characters are ignored, as masking
 * them would garble ordinary text.
 */
export function createRedactor(secrets: readonly string[]): (text: string) => string {
  const known = [...new Set(secrets.filter((secret) => secret.length >= 4))]
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text.replace(URL_CREDENTIALS, "$1***@");
    for (const secret of known) out = out.replaceAll(secret, "***");
    return out;
  };
}

/** A logger that drops everything; for tests and library defaults. */
export function silentLogger(): Logger {
  return createLogger({ level: "error", write: () => {} });
}
