/**
 * The back office's reads of sessions: one by invoice id, or pages of them by
 * device, state and time. What leaves here never holds a secret: no access
 * token hash, nonce, signature or gateway token.
 */
import { AppError, toAppError } from "./error-catalogue.js";
import type { Operation } from "./initiate-request.js";
import type { SessionCheckStore, SessionQueryStore, SessionState, StoredSession } from "./session-state.js";
import { rethrowStoreFailure } from "./store-failure.js";

/** A session as the back office sees it. */
export interface SessionView {
  readonly invoiceId: string;
  readonly operation: Operation;
  readonly endpointId: string;
  readonly amountCentis: number | undefined;
  readonly currency: string;
  readonly serialNumber: string;
  readonly state: SessionState;
  readonly createdAt: Date;
  readonly checkedAt: Date | undefined;
  readonly finalStatus: string | undefined;
  readonly gatewayOrderId: string | undefined;
  readonly finalAt: Date | undefined;
}

/** A listing request as adapters pass it (already typed by the schema). */
export interface ListRequest {
  readonly serialNumber: string | undefined;
  readonly state: SessionState | undefined;
  readonly createdFrom: Date | undefined;
  readonly createdBefore: Date | undefined;
  /** 0 means the default page size. */
  readonly pageSize: number;
  /** Empty for the first page. */
  readonly pageToken: string;
}

/** One page of a listing. */
export interface SessionPage {
  readonly sessions: readonly SessionView[];
  /** Empty on the last page. */
  readonly nextPageToken: string;
}

/** Reads sessions for the back office. Rejects with AppError only. */
export interface SessionQueries {
  get(invoiceId: string): Promise<SessionView>;
  list(request: ListRequest): Promise<SessionPage>;
}

/** Default and largest page sizes. */
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 500;

/** What the back office may see of a stored session. */
export function view(s: StoredSession): SessionView {
  return {
    invoiceId: s.invoiceId,
    operation: s.operation,
    endpointId: s.endpointId,
    amountCentis: s.amountCentis,
    currency: s.currency,
    serialNumber: s.serialNumber,
    state: s.state,
    createdAt: s.createdAt,
    checkedAt: s.checkedAt,
    finalStatus: s.finalStatus,
    gatewayOrderId: s.gatewayOrderId,
    finalAt: s.finalAt,
  };
}

// A page token is the last session of the previous page: its creation time in
// milliseconds and its invoice id, as base64url JSON. It is a cursor, not a
// secret; a token that does not decode to that shape is the caller's error.
function encodeCursor(s: StoredSession): string {
  return Buffer.from(JSON.stringify([s.createdAt.getTime(), s.invoiceId])).toString("base64url");
}

function decodeCursor(token: string): { createdAt: Date; invoiceId: string } | undefined {
  if (token === "") return undefined;
  const bad = () => new AppError("FIELD_FORMAT", "pageToken is not a page token this server gave.");
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  if (!Array.isArray(value) || value.length !== 2 || !Number.isSafeInteger(value[0]) || typeof value[1] !== "string") {
    throw bad();
  }
  return { createdAt: new Date(value[0] as number), invoiceId: value[1] as string };
}

const unavailable = (e: unknown): never => rethrowStoreFailure(e, "The session store is unavailable. Retry later.");

/** Builds the back office's reads over the store. */
export function createSessionQueries(store: SessionCheckStore & SessionQueryStore): SessionQueries {
  async function get(invoiceId: string): Promise<SessionView> {
    if (invoiceId === "") throw new AppError("FIELD_REQUIRED", "invoiceId is required.");
    const found = await store.findStoredSession(invoiceId).catch(unavailable);
    if (!found) throw new AppError("SESSION_NOT_FOUND", `No session has invoice id ${invoiceId}.`);
    return view(found);
  }

  async function list(request: ListRequest): Promise<SessionPage> {
    const size = request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize;
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
      throw new AppError("FIELD_RANGE", `pageSize must be 0 (default ${DEFAULT_PAGE_SIZE}) or 1-${MAX_PAGE_SIZE}.`);
    }
    // One more than asked tells whether another page follows.
    const rows = await store
      .listSessions({
        serialNumber: request.serialNumber,
        state: request.state,
        createdFrom: request.createdFrom,
        createdBefore: request.createdBefore,
        after: decodeCursor(request.pageToken),
        limit: size + 1,
      })
      .catch(unavailable);
    const page = rows.slice(0, size);
    const last = page[page.length - 1];
    return { sessions: page.map(view), nextPageToken: rows.length > size && last ? encodeCursor(last) : "" };
  }

  return {
    get: (invoiceId) =>
      get(invoiceId).catch((e: unknown) => {
        throw toAppError(e);
      }),
    list: (request) =>
      list(request).catch((e: unknown) => {
        throw toAppError(e);
      }),
  };
}
