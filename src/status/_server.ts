import type { Logger } from "../log/mod.ts";

/** Options of {@linkcode StatusServer}. */
export interface StatusServerOptions {
  hostname: string;
  port: number;
  log: Logger;
}

/** The HTTP server around a handler; `close()` is safe to call twice. */
export class StatusServer {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  #closed = false;

  /** Binds at once; throws when the address is taken. */
  constructor(
    handler: (request: Request) => Response | Promise<Response>,
    options: StatusServerOptions,
  ) {
    try {
      this.#server = Deno.serve({
        hostname: options.hostname,
        port: options.port,
        onListen: () => {},
        onError: (error) => {
          options.log.error("Status request failed", { error });
          return new Response("internal error\n", { status: 500 });
        },
      }, handler);
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        throw new Error(
          `Cannot start the status server on ${options.hostname}:${options.port}: address in use: ` +
            'stop the other process or set "status.listen" (port 0 disables the server)',
          { cause: error },
        );
      }
      throw error;
    }
    options.log.info("Status server listening", {
      url: `http://${options.hostname}:${this.#server.addr.port}/`,
    });
  }

  /** The bound address (with the real port when 0 was asked for). */
  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** Stops accepting requests and waits for open ones. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#server.shutdown();
  }
}
