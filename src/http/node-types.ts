/**
 * The request and response types shared by node:http and the node:http2
 * compatibility API; every handler here is written against both.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";

/** A request from node:http or node:http2. */
export type NodeServerRequest = http.IncomingMessage | http2.Http2ServerRequest;

/** A response from node:http or node:http2, narrowed to what both offer. */
export type NodeServerResponse = (Omit<http.ServerResponse, "write"> | Omit<http2.Http2ServerResponse, "write">) & {
  write(chunk: string | Uint8Array, callback?: (err: Error | null | undefined) => void): boolean;
  write(
    chunk: string | Uint8Array,
    encoding: BufferEncoding,
    callback?: (err: Error | null | undefined) => void,
  ): boolean;
  writeHead(status: number, headers?: http.OutgoingHttpHeaders): unknown;
};

/** A handler that serves both HTTP/1.1 and HTTP/2 requests. */
export type NodeHandler = (req: NodeServerRequest, res: NodeServerResponse) => void;
