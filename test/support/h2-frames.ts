/**
 * HTTP/2 frames written by hand on a raw socket, for callers node:http2's
 * client will not imitate: a connection that sends only the preface, half a
 * header block, or keeps its socket after GOAWAY.
 */
import { readFileSync } from "node:fs";
import * as net from "node:net";

/** The client connection preface. */
export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** One frame: 9-byte header (length, type, flags, stream id), then the payload. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

export const SETTINGS = 0x4;
export const HEADERS = 0x1;
export const END_STREAM = 0x1;
export const END_HEADERS = 0x4;

/** An empty SETTINGS frame. */
export const EMPTY_SETTINGS = frame(SETTINGS, 0, 0);

/** HPACK for GET /healthz over http, authority "x" (static table indexes and literals, no Huffman). */
export const GET_HEALTHZ_BLOCK = Buffer.concat([
  Buffer.from([0x82, 0x86]), // :method GET, :scheme http
  Buffer.from([0x44, 8]), // :path, literal with indexing, 8 bytes
  Buffer.from("/healthz"),
  Buffer.from([0x41, 1]), // :authority, 1 byte
  Buffer.from("x"),
]);

/** A raw connection that keeps its side open when the server ends its own; resolves once connected. */
export async function rawConnect(
  port: number,
): Promise<{ socket: net.Socket; closed: Promise<number>; frameTypes: () => number[] }> {
  const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  socket.on("error", () => undefined);
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  const opened = Date.now();
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - opened)));
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const frameTypes = () => {
    const all = Buffer.concat(chunks);
    const types: number[] = [];
    for (let at = 0; at + 9 <= all.length; at += 9 + all.readUIntBE(at, 3)) types.push(all.readUInt8(at + 3));
    return types;
  };
  return { socket, closed, frameTypes };
}

export const GOAWAY = 0x7;

/**
 * Connections the server (this process, listening on `serverPort`) still
 * holds a socket for, by the caller's port. Read from /proc/net/tcp: an
 * entry with inode 0 is a closed socket the kernel finishes alone, so only
 * sockets with an owner count. Linux only, like the machine the suite runs on.
 */
export function serverHeldPorts(serverPort: number): Set<number> {
  const held = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = Number.parseInt(f[1]?.split(":").pop() ?? "", 16);
      const remote = Number.parseInt(f[2]?.split(":").pop() ?? "", 16);
      // State 0A is LISTEN: the server's own port, not a connection.
      if (local === serverPort && f[3] !== "0A" && f[9] !== "0") held.add(remote);
    }
  }
  return held;
}

/** Ms until the server lets go of the connection from `clientPort`, or "open" after `withinMs`. */
export async function serverLetsGo(serverPort: number, clientPort: number, withinMs: number): Promise<number | "open"> {
  const start = Date.now();
  while (Date.now() - start < withinMs) {
    if (!serverHeldPorts(serverPort).has(clientPort)) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 25));
  }
  return "open";
}
