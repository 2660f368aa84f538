/**
 * The little of protobuf's wire format a snapshot needs: varints, and walking the fields of a
 * message so that unknown ones (the response header, newer fields) are skipped by wire type.
 */
import { EtcdError } from "./_errors.ts";

/** A varint read from a buffer: its value and the offset just after it. */
export interface Varint {
  /** Exact up to 2 ** 53; larger values (never sizes) lose precision. */
  value: number;
  next: number;
}

/** The fields of `SnapshotResponse` that a backup needs. */
export interface SnapshotChunk {
  /** Bytes of the database still to come after this blob (field 2). */
  remainingBytes: number;
  /** Part of the snapshot (field 3); a view into the message, not a copy. */
  blob: Uint8Array;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

function malformed(detail: string): EtcdError {
  return new EtcdError(`Cannot decode protobuf message: ${detail}`, { code: "Internal" });
}

/** Reads a base-128 varint at `offset`; throws on a truncated or over-long one. */
export function readVarint(bytes: Uint8Array, offset: number): Varint {
  let value = 0;
  let scale = 1;
  let position = offset;
  // A 64-bit varint takes at most 10 bytes. Multiplying, not shifting: shifts wrap at 32 bits.
  for (let index = 0; index < 10; index++) {
    if (position >= bytes.length) throw malformed(`varint at offset ${offset} is truncated`);
    const byte = bytes[position++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return { value, next: position };
    scale *= 128;
  }
  throw malformed(`varint at offset ${offset} is longer than 10 bytes`);
}

/**
 * Calls `onField` for each field of a message with its number, wire type and either the varint
 * value or a view of the field's bytes (length-delimited and fixed-width fields).
 */
export function walkFields(
  message: Uint8Array,
  onField: (field: number, wireType: number, value: number, bytes: Uint8Array | undefined) => void,
): void {
  let position = 0;
  while (position < message.length) {
    const key = readVarint(message, position);
    position = key.next;
    const field = Math.floor(key.value / 8);
    const wireType = key.value % 8;
    if (field === 0) throw malformed(`field number 0 at offset ${position}`);
    switch (wireType) {
      case WIRE_VARINT: {
        const varint = readVarint(message, position);
        position = varint.next;
        onField(field, wireType, varint.value, undefined);
        break;
      }
      case WIRE_LEN: {
        const length = readVarint(message, position);
        const end = length.next + length.value;
        if (end > message.length) {
          throw malformed(
            `field ${field} needs ${length.value} bytes, only ${message.length - length.next} left`,
          );
        }
        onField(field, wireType, length.value, message.subarray(length.next, end));
        position = end;
        break;
      }
      case WIRE_FIXED64:
      case WIRE_FIXED32: {
        const end = position + (wireType === WIRE_FIXED64 ? 8 : 4);
        if (end > message.length) throw malformed(`fixed-width field ${field} is truncated`);
        onField(field, wireType, 0, message.subarray(position, end));
        position = end;
        break;
      }
      default:
        // Groups (3, 4) are long deprecated; 6 and 7 do not exist.
        throw malformed(`unsupported wire type ${wireType} of field ${field}`);
    }
  }
}

/** Decodes an etcd `SnapshotResponse`: remaining_bytes (2), blob (3); header (1) and others skipped. */
export function decodeSnapshotResponse(message: Uint8Array): SnapshotChunk {
  let remainingBytes = 0;
  let blob: Uint8Array = new Uint8Array(0);
  walkFields(message, (field, wireType, value, bytes) => {
    if (field === 2 && wireType === WIRE_VARINT) remainingBytes = value;
    else if (field === 3 && wireType === WIRE_LEN && bytes !== undefined) blob = bytes;
    else if (field === 2 || field === 3) {
      throw malformed(`field ${field} of SnapshotResponse has wire type ${wireType}`);
    }
  });
  return { remainingBytes, blob };
}
