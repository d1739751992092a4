/**
 * Whether this instance should get traffic, and `grpc.health.v1.Health` on
 * the Connect router. Ready means: the store answers a ping and the server is
 * not draining. `/readyz` and Health tell the same thing.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/grpc/health/v1/health_pb.js";
import { AppError, toAppError } from "../core/error-catalogue.js";

/** The readiness of the instance, with the reason when it is not ready. */
export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: AppError };

/** The draining flag and the readiness check built on it. */
export interface ServingState {
  /** True from the start of a graceful shutdown on. */
  readonly draining: boolean;
  /** Aborted when draining starts; long-lived streams end on it. */
  readonly drainSignal: AbortSignal;
  startDraining(): void;
  /** Asks the store; never rejects. */
  readiness(): Promise<Readiness>;
}

/** Creates the serving state over a store's ping. */
export function createServingState(store: { ping(): Promise<void> }): ServingState {
  const drain = new AbortController();
  return {
    get draining() {
      return drain.signal.aborted;
    },
    drainSignal: drain.signal,
    startDraining: () => drain.abort(),
    async readiness() {
      if (drain.signal.aborted) return { ready: false, reason: shuttingDown() };
      try {
        await store.ping();
        return { ready: true };
      } catch (e) {
        const error = toAppError(e);
        return {
          ready: false,
          reason:
            error.code === "INTERNAL_ERROR"
              ? new AppError("STORE_UNAVAILABLE", "The session store cannot be reached.", {
                  logDetail: error.logDetail,
                })
              : error,
        };
      }
    },
  };
}

/** The error answered to new requests while draining. */
export function shuttingDown(): AppError {
  return new AppError("SHUTTING_DOWN", "The server is shutting down; retry on another instance.");
}

function sleep(ms: number, signals: readonly AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const s of signals) {
      if (s.aborted) return done();
      s.addEventListener("abort", done, { once: true });
    }
  });
}

/** Options of the Health service. */
export interface HealthOptions {
  readonly state: ServingState;
  /** How often Watch re-checks readiness. */
  readonly watchIntervalMs?: number;
}

/**
 * Registers `grpc.health.v1.Health`. The empty service name is the whole
 * server; a registered service's full name gets the same status (they share
 * the store); any other name is NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch).
 */
export function registerHealth(router: ConnectRouter, options: HealthOptions): void {
  const { state } = options;
  const interval = options.watchIntervalMs ?? 1000;
  const known = (service: string) => service === "" || router.handlers.some((h) => h.service.typeName === service);
  const statusNow = async (): Promise<Status> =>
    (await state.readiness()).ready ? Status.SERVING : Status.NOT_SERVING;
  const serviceNames = () => [...new Set(router.handlers.map((h) => h.service.typeName))].sort();

  router.service(Health, {
    async check(req: HealthCheckRequest): Promise<HealthCheckResponse> {
      if (!known(req.service)) throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
      return create(HealthCheckResponseSchema, { status: await statusNow() });
    },
    async *watch(req: HealthCheckRequest, ctx: HandlerContext) {
      let last: Status | undefined;
      while (!ctx.signal.aborted) {
        const status = known(req.service) ? await statusNow() : Status.SERVICE_UNKNOWN;
        if (status !== last) {
          yield create(HealthCheckResponseSchema, { status });
          last = status;
        }
        // A watch would hold its HTTP/2 session open through a graceful
        // shutdown; it ends once NOT_SERVING is sent, and clients reconnect elsewhere.
        if (state.draining) return;
        await sleep(interval, [ctx.signal, state.drainSignal]);
      }
    },
    async list() {
      const status = await statusNow();
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const name of ["", ...serviceNames()]) statuses[name] = create(HealthCheckResponseSchema, { status });
      return { statuses };
    },
  });
}
