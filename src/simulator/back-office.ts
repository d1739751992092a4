/**
 * The merchant's back office over Connect (HTTP/2, connect-node), with the
 * API key: AuthService issues the app's token, SessionService reads a
 * session and, where the server has it, follows one with WatchSession.
 */
import { type CallOptions, type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { AuthService } from "../../gen/toptechpay/auth/v1/auth_pb.js";
import { type Session, SessionService } from "../../gen/toptechpay/session/v1/session_pb.js";

/** SessionService.WatchSession as connect-es builds it: one message per state, then the end. */
type WatchFn = (request: { invoiceId: string }, options?: CallOptions) => AsyncIterable<{ session?: Session }>;

/** Connect clients for one server, closed together. */
export class BackOffice {
  private readonly h2: Http2SessionManager;
  private readonly auth: Client<typeof AuthService>;
  private readonly sessions: Client<typeof SessionService>;

  constructor(baseUrl: string, apiKey: string) {
    this.h2 = new Http2SessionManager(baseUrl);
    const withKey: Interceptor = (next) => (req) => {
      req.header.set("authorization", `Bearer ${apiKey}`);
      return next(req);
    };
    const transport = createConnectTransport({
      baseUrl,
      httpVersion: "2",
      sessionManager: this.h2,
      interceptors: [withKey],
      defaultTimeoutMs: 10_000,
    });
    this.auth = createClient(AuthService, transport);
    this.sessions = createClient(SessionService, transport);
  }

  /** AuthService.IssueAccessToken for the device. */
  async issueToken(serialNumber: string): Promise<{ accessToken: string; expiresAt: Date | undefined }> {
    const res = await this.auth.issueAccessToken({ serialNumber });
    const expiresAt = res.expiresAt ? new Date(Number(res.expiresAt.seconds) * 1000) : undefined;
    return { accessToken: res.accessToken, expiresAt };
  }

  /** SessionService.GetSession; rejects with the ConnectError (NOT_FOUND for an unknown invoice). */
  async getSession(invoiceId: string): Promise<Session | undefined> {
    return (await this.sessions.getSession({ invoiceId })).session;
  }

  /**
   * Opens SessionService.WatchSession, or undefined when this build's gen/
   * has no such method. A server without it answers UNIMPLEMENTED at the
   * first `next()`.
   */
  watch(invoiceId: string): SessionWatch | undefined {
    // Looked up at run time: createClient makes a method for every RPC of the
    // descriptor, and the simulator runs against servers with and without it.
    const fn = (this.sessions as unknown as { watchSession?: WatchFn }).watchSession;
    return fn ? new SessionWatch(fn, invoiceId) : undefined;
  }

  /** Closes the HTTP/2 connection (open streams are cancelled). */
  close(): void {
    this.h2.abort();
  }
}

/** One open WatchSession stream, read a message at a time. */
export class SessionWatch {
  private readonly controller = new AbortController();
  private readonly messages: AsyncIterator<{ session?: Session }>;

  constructor(fn: WatchFn, invoiceId: string) {
    this.messages = fn({ invoiceId }, { signal: this.controller.signal, timeoutMs: 120_000 })[Symbol.asyncIterator]();
  }

  /**
   * The next message's session, or "ended" when the stream ended (OK).
   * Rejects with the stream's ConnectError, or when nothing came within
   * `timeoutMs`.
   */
  async next(timeoutMs: number): Promise<Session | "ended"> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const r = await Promise.race([this.messages.next(), late]);
      if (r.done) return "ended";
      if (!r.value.session) throw new Error("a message without a session");
      return r.value.session;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Cancels the stream. */
  close(): void {
    this.controller.abort();
  }
}
