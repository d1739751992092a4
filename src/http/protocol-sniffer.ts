/**
 * One port for HTTP/1.1 and HTTP/2, in plain text or TLS, in front of one
 * node:http server and one node:http2 server, so both protocols get the same
 * limits and timeouts whichever way they arrive.
 *
 * Plain text (h2c with prior knowledge): node:http2 cannot take HTTP/1.1
 * without TLS, so each new connection's first bytes are read: an HTTP/2
 * client always opens with the preface "PRI * HTTP/2.0", which no HTTP/1.1
 * request line can start with. The socket, with those bytes put back, is then
 * handed to the matching server.
 *
 * TLS: ALPN chooses. node:http2's own secure server with allowHTTP1 serves
 * HTTP/1.1 through a parser that ignores node:http's headersTimeout,
 * keepAliveTimeout and maxHeaderSize, so the TLS socket is handed over instead.
 */
import * as net from "node:net";
import * as tls from "node:tls";

const PREFACE_START = Buffer.from("PRI ");

/** The servers a connection may be handed to. */
export interface SniffTargets {
  readonly http1: net.Server;
  readonly http2: net.Server;
  /** A connection that sends nothing for this long is closed. */
  readonly firstByteTimeoutMs: number;
}

/** A net.Server that routes each connection to the HTTP/1.1 or HTTP/2 server. */
export function createSniffingServer(targets: SniffTargets): net.Server {
  return net.createServer({ noDelay: true }, (socket) => {
    let seen: Buffer = Buffer.alloc(0);
    socket.setTimeout(targets.firstByteTimeoutMs, () => socket.destroy());
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE_START.length);
      const isH2 = seen.subarray(0, n).equals(PREFACE_START.subarray(0, n));
      // Too few bytes to decide, and they still look like the preface.
      if (isH2 && seen.length < PREFACE_START.length) return;
      socket.off("data", onData);
      socket.pause();
      socket.setTimeout(0);
      socket.unshift(seen);
      if (isH2) {
        // node:http2 takes over the native handle and drains what was put back
        // itself; resuming the JS stream here would steal those bytes.
        targets.http2.emit("connection", socket);
      } else {
        targets.http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });
}

/** A tls.Server that hands each connection to the HTTP/2 server (ALPN h2) or the HTTP/1.1 server (anything else). */
export function createTlsServer(
  targets: SniffTargets,
  secure: { readonly cert: Buffer; readonly key: Buffer },
): tls.Server {
  return tls.createServer(
    {
      cert: secure.cert,
      key: secure.key,
      ALPNProtocols: ["h2", "http/1.1"],
      // The handshake, like a plain connection's first bytes, is bounded.
      handshakeTimeout: targets.firstByteTimeoutMs,
      noDelay: true,
    },
    (socket) => {
      socket.on("error", () => socket.destroy());
      if (socket.alpnProtocol === "h2") targets.http2.emit("connection", socket);
      else targets.http1.emit("connection", socket);
    },
  );
}
