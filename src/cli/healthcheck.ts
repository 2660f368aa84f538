import { EXIT, parseFlags, print, printError, UsageError } from "./_common.ts";

/** Help text of `snapcron healthcheck`. */
export const HEALTHCHECK_HELP =
  `Usage: snapcron healthcheck [--url URL] [--ready] [--timeout SECONDS]

Asks a running snapcron whether it is alive (GET /healthz) or, with --ready, whether
its jobs are healthy (GET /, 503 when a job failed or is stale). Exits 0 when the
answer is 200, 1 otherwise. For container health checks in images without curl.

  --url URL        base URL of the status server (default http://127.0.0.1:18080)
  --ready          check / instead of /healthz
  --timeout S      seconds to wait for the answer (default 5)`;

/** `snapcron healthcheck`: a health probe that needs no curl in the image. */
export async function healthcheckCommand(args: string[]): Promise<number> {
  const { values } = parseFlags("healthcheck", args, {
    url: { type: "string" },
    ready: { type: "boolean" },
    timeout: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, false);
  if (values.help) {
    print(HEALTHCHECK_HELP);
    return EXIT.ok;
  }
  const timeout = Number(values.timeout ?? "5");
  if (!(timeout > 0)) {
    throw new UsageError(
      `Invalid --timeout "${values.timeout}": use a number of seconds`,
      "healthcheck",
    );
  }
  let base: URL;
  try {
    base = new URL(values.url ?? "http://127.0.0.1:18080");
  } catch {
    throw new UsageError(
      `Invalid --url "${values.url}": write it in full, e.g. http://127.0.0.1:18080`,
      "healthcheck",
    );
  }
  const url = new URL(values.ready ? "/" : "/healthz", base);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeout * 1000) });
    await response.body?.cancel();
    if (response.ok) return EXIT.ok;
    printError(`${url}: HTTP ${response.status}`);
    return EXIT.failed;
  } catch (error) {
    printError(`${url}: ${(error as Error).message}`);
    return EXIT.failed;
  }
}
