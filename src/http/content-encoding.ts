/**
 * Content-Encoding of the JSON paths' request bodies: `gzip` and `br` are
 * decoded, `identity` (or no header) is the body as sent, and anything else
 * is refused with ENCODING_UNSUPPORTED (415) before the body is read, never
 * read as if it were plain JSON.
 *
 * Decoding uses connect-node's own gzip and brotli codecs, the ones its
 * Connect and gRPC paths use: node:zlib with `maxOutputLength`, which stops
 * inflating as soon as the output passes the limit, so a small "zip bomb"
 * costs at most `limit` bytes of memory. The compressed body is held to the
 * same limit while it is read.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { AppError } from "../core/error-catalogue.js";

/** The codings a JSON path decodes, for the 415 answer's Accept-Encoding header. */
export const ACCEPTED_ENCODINGS = "gzip, br";

// RFC 9110 section 8.4.1.3: "x-gzip" is the same coding as "gzip".
const CODECS = new Map([
  ["gzip", compressionGzip],
  ["x-gzip", compressionGzip],
  ["br", compressionBrotli],
]);

/**
 * The decoder for a body sent with this Content-Encoding header, or undefined
 * when the body is sent as is. The decoder holds the decoded body to `limit`
 * bytes and rejects with BODY_TOO_LARGE or BODY_ENCODING_INVALID. Throws
 * ENCODING_UNSUPPORTED for any other coding (checked before the body is read).
 */
export function bodyDecoder(
  header: string | undefined,
  limit: number,
): ((bytes: Uint8Array) => Promise<Uint8Array>) | undefined {
  const coding = header?.trim().toLowerCase();
  if (coding === undefined || coding === "" || coding === "identity") return undefined;
  const codec = CODECS.get(coding);
  if (codec === undefined) {
    throw new AppError(
      "ENCODING_UNSUPPORTED",
      `Content-Encoding "${printable(header ?? "")}" is not supported; use gzip, br or none.`,
    );
  }
  return (bytes) =>
    codec.decompress(bytes, limit).catch((e: unknown) => {
      if (e instanceof ConnectError && e.code === Code.ResourceExhausted) {
        throw new AppError("BODY_TOO_LARGE", `The request body must be at most ${limit} bytes once decompressed.`);
      }
      throw new AppError("BODY_ENCODING_INVALID", `The request body is not valid ${codec.name} data.`, {
        logDetail: e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e),
      });
    });
}

/** The header as shown back in a message: short, printable ASCII only. */
function printable(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, "?").slice(0, 40);
}
