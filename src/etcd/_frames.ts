/**
 * gRPC's length-prefixed message framing (1 flag byte, 4-byte big-endian length, message) over
 * a byte stream whose chunks fall anywhere: across frame headers, inside messages, or several
 * frames at once.
 */
import { EtcdError } from "./_errors.ts";

/** Options of {@linkcode GrpcFrameDecoder}. */
export interface GrpcFrameDecoderOptions {
  /** Larger frames are refused, so a corrupt length cannot make us allocate gigabytes. */
  maxMessageBytes?: number;
  /** Hand out copies only, never views of a chunk: for a caller that reuses its chunks. */
  copy?: boolean;
}

const HEADER_BYTES = 5;

/** Splits a gRPC response body into messages; feed it chunks, then call `end()`. */
export class GrpcFrameDecoder {
  readonly #maxMessageBytes: number;
  readonly #copy: boolean;
  readonly #header = new Uint8Array(HEADER_BYTES);
  #headerFill = 0;
  #message: Uint8Array | undefined;
  #messageFill = 0;

  constructor(options: GrpcFrameDecoderOptions = {}) {
    this.#maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
    this.#copy = options.copy ?? false;
  }

  /** Returns the messages completed by `chunk`; they may be views into `chunk` (see `copy`). */
  push(chunk: Uint8Array): Uint8Array[] {
    const messages: Uint8Array[] = [];
    let position = 0;
    while (position < chunk.length) {
      if (this.#message === undefined) {
        // Whole frame in this chunk and nothing pending: hand out a view, copy nothing.
        if (this.#headerFill === 0 && chunk.length - position >= HEADER_BYTES) {
          const length = this.#readHeader(chunk, position);
          if (chunk.length - position - HEADER_BYTES >= length) {
            const start = position + HEADER_BYTES;
            const end = start + length;
            messages.push(this.#copy ? chunk.slice(start, end) : chunk.subarray(start, end));
            position = end;
            continue;
          }
        }
        const take = Math.min(HEADER_BYTES - this.#headerFill, chunk.length - position);
        this.#header.set(chunk.subarray(position, position + take), this.#headerFill);
        this.#headerFill += take;
        position += take;
        if (this.#headerFill < HEADER_BYTES) break;
        this.#message = new Uint8Array(this.#readHeader(this.#header, 0));
        this.#messageFill = 0;
      }
      const take = Math.min(this.#message.length - this.#messageFill, chunk.length - position);
      this.#message.set(chunk.subarray(position, position + take), this.#messageFill);
      this.#messageFill += take;
      position += take;
      if (this.#messageFill === this.#message.length) {
        messages.push(this.#message);
        this.#message = undefined;
        this.#headerFill = 0;
      }
    }
    return messages;
  }

  /** Throws when the body ended inside a frame. */
  end(): void {
    if (this.#message !== undefined) {
      throw new EtcdError(
        `gRPC stream ended inside a message: ${this.#messageFill} of ${this.#message.length} bytes arrived`,
        { code: "DataLoss" },
      );
    }
    if (this.#headerFill > 0) {
      throw new EtcdError(
        `gRPC stream ended inside a frame header: ${this.#headerFill} of ${HEADER_BYTES} bytes arrived`,
        { code: "DataLoss" },
      );
    }
  }

  #readHeader(bytes: Uint8Array, offset: number): number {
    const flag = bytes[offset]!;
    if (flag !== 0) {
      throw new EtcdError(
        flag === 1
          ? "gRPC message is compressed, which this client never asks for"
          : `gRPC frame has an unknown flag byte ${flag}`,
        { code: "Internal" },
      );
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset + 1, 4);
    const length = view.getUint32(0);
    if (length > this.#maxMessageBytes) {
      throw new EtcdError(
        `gRPC message of ${length} bytes is larger than the limit of ${this.#maxMessageBytes}`,
        { code: "ResourceExhausted" },
      );
    }
    return length;
  }
}
