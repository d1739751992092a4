/**
 * Callers that try to pin the server, made with node:http2 and raw sockets:
 * bodies over the limit that never end, bodies that never end, streams the
 * caller resets, connections that drop, and readers that open no flow-control
 * window. Each returns once the server has had its chance to answer, leaving
 * the connection open.
 */
import * as http2 from "node:http2";
import * as net from "node:net";

/** One content type on one path, as a caller would send it. */
export interface Target {
  readonly name: string;
  readonly path: string;
  readonly type: string;
  /** Extra request headers (te: trailers for gRPC). */
  readonly headers?: Readonly<Record<string, string>>;
}

const SALE = "/toptechpay.initiate.v1.InitiateService/Sale";
const ISSUE = "/toptechpay.auth.v1.AuthService/IssueAccessToken";
const CHECK = "/toptechpay.gateway.v1.GatewayService/CheckSale";
const NOTIFY = "/toptechpay.gateway.v1.GatewayService/SaleNotification";
const CARDS = "/toptechpay.card.v1.CardService/ListCards";
const DEVICE_CARDS = "/toptechpay.card.v1.DeviceCardService/ListDeviceCards";
const GRPC = { te: "trailers" };

/** Every content type the server takes, on every unary service and the JSON paths. */
export const TARGETS: readonly Target[] = [
  { name: "JSON path", path: "/sale/initiate-sale", type: "application/json" },
  { name: "Connect JSON", path: SALE, type: "application/json" },
  { name: "Connect proto", path: SALE, type: "application/proto" },
  { name: "gRPC proto", path: SALE, type: "application/grpc", headers: GRPC },
  { name: "gRPC+json", path: SALE, type: "application/grpc+json", headers: GRPC },
  { name: "gRPC-Web", path: SALE, type: "application/grpc-web+proto" },
  { name: "AuthService Connect proto", path: ISSUE, type: "application/proto" },
  { name: "AuthService gRPC", path: ISSUE, type: "application/grpc", headers: GRPC },
  { name: "JSON check path", path: "/sale/01a23bfa-68d9-70eb-b45b-7ff95c391ae4/check", type: "application/json" },
  { name: "GatewayService gRPC", path: CHECK, type: "application/grpc", headers: GRPC },
  { name: "GatewayService Connect JSON", path: CHECK, type: "application/json" },
  { name: "JSON notification path", path: "/sale/notification", type: "application/json" },
  { name: "SaleNotification gRPC", path: NOTIFY, type: "application/grpc", headers: GRPC },
  { name: "callback form POST", path: "/callback/1111", type: "application/x-www-form-urlencoded" },
  { name: "JSON card path", path: "/cards/list-cards", type: "application/json" },
  { name: "DeviceCardService Connect JSON", path: DEVICE_CARDS, type: "application/json" },
  { name: "CardService gRPC", path: CARDS, type: "application/grpc", headers: GRPC },
];

/** An HTTP/2 session to `url`, connected. */
export async function h2Session(
  url: string,
  options: http2.ClientSessionOptions = {},
): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(url, options);
  session.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  return session;
}

/** What became of one attacking stream. */
export interface StreamFate {
  /** The :status answered, if any. */
  status: number | undefined;
  /** True once the stream closed (answered and reset, or ended). */
  closed: boolean;
  /** grpc-status, from the headers (Trailers-Only) or the trailers. */
  grpcStatus: string | undefined;
}

/**
 * Opens a stream, writes `bytes` bytes of body and never ends it. Resolves
 * when the answer's headers arrive or after `waitMs`, whichever is first.
 */
export function openStream(
  session: http2.ClientHttp2Session,
  target: Target,
  bytes: number,
  waitMs: number,
  end = false,
): Promise<{ stream: http2.ClientHttp2Stream; fate: StreamFate }> {
  const stream = session.request({
    ":method": "POST",
    ":path": target.path,
    "content-type": target.type,
    ...target.headers,
  });
  const fate: StreamFate = { status: undefined, closed: false, grpcStatus: undefined };
  stream.on("trailers", (t) => {
    fate.grpcStatus ??= t["grpc-status"] as string | undefined;
  });
  stream.on("error", () => undefined);
  stream.on("close", () => {
    fate.closed = true;
  });
  // Read whatever comes, so flow control never holds the answer back.
  stream.resume();
  return new Promise((resolve) => {
    const done = () => resolve({ stream, fate });
    const timer = setTimeout(done, waitMs);
    stream.once("response", (h) => {
      fate.status = Number(h[":status"]);
      fate.grpcStatus = h["grpc-status"] as string | undefined;
      clearTimeout(timer);
      // Give a reset that follows the answer a moment to arrive.
      setTimeout(done, 50);
    });
    if (bytes > 0) stream.write(Buffer.alloc(bytes, 0x20));
    if (end) stream.end();
  });
}

/** A raw HTTP/1.1 request whose body is announced but only partly sent; resolves with what came back. */
export function h1PartialBody(
  port: number,
  target: Target,
  announced: number,
  sent: number,
  waitMs: number,
): Promise<{ socket: net.Socket; text: () => string }> {
  const socket = net.connect(port, "127.0.0.1");
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (d: string) => {
    text += d;
  });
  socket.on("error", () => undefined);
  socket.write(
    `POST ${target.path} HTTP/1.1\r\nHost: x\r\ncontent-type: ${target.type}\r\ncontent-length: ${announced}\r\n\r\n`,
  );
  if (sent > 0) socket.write(Buffer.alloc(sent, 0x20));
  return new Promise((resolve) => setTimeout(() => resolve({ socket, text: () => text }), waitMs));
}

/** The value of cp_requests_in_flight on /metrics. */
export async function inFlight(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^cp_requests_in_flight (\d+)/m.exec(text);
  if (!m) throw new Error("cp_requests_in_flight missing from /metrics");
  return Number(m[1]);
}

/** Polls cp_requests_in_flight until it is `want` or `withinMs` passes; returns the last value. */
export async function inFlightSettles(url: string, want: number, withinMs: number): Promise<number> {
  const until = Date.now() + withinMs;
  let n = await inFlight(url);
  while (n !== want && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    n = await inFlight(url);
  }
  return n;
}
