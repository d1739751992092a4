/**
 * The application behind every protocol: the store, the core services and
 * the instruments, built once from the configuration. Nothing here knows of
 * HTTP; the route table (route-table.ts) puts it on the wire.
 */
import type { Logger } from "pino";
import type { Config } from "../config/load-config.js";
import { type AccessTokens, createAccessTokens } from "../core/access-tokens.js";
import { type CallbackService, createCallbackService } from "../core/callback-service.js";
import { type CardQueries, createCardQueries } from "../core/card-queries.js";
import { type CheckService, createCheckService } from "../core/check-service.js";
import { createDeviceCards, type DeviceCards } from "../core/device-cards.js";
import { createEndpointDirectory } from "../core/endpoints.js";
import { createRequestFilter } from "../core/filters/evaluate.js";
import { buildFilterRules } from "../core/filters/rules.js";
import { createInitiator, type Initiator } from "../core/initiator.js";
import { createNotificationService, type NotificationService } from "../core/notification-service.js";
import { createSessionQueries, type SessionQueries } from "../core/session-queries.js";
import { createSessionWatcher, type SessionWatcher } from "../core/session-watch.js";
import { createServingState, type ServingState } from "../ops/health.js";
import { createMetrics, type Metrics } from "../ops/metrics.js";
import { type AppStore, openStore } from "../store/open-store.js";

/** The parts of a server that the routes serve. */
export interface App {
  readonly metrics: Metrics;
  readonly store: AppStore;
  /** Ready or draining: the probes, Health and admission read it. */
  readonly state: ServingState;
  readonly tokens: AccessTokens;
  readonly core: Initiator;
  readonly checks: CheckService;
  readonly notifications: NotificationService;
  readonly sessionQueries: SessionQueries;
  readonly callbacks: CallbackService;
  /** SessionService.WatchSession's streams, ended when the server drains. */
  readonly watcher: SessionWatcher;
  /** The app's own cards, by access token. */
  readonly deviceCards: DeviceCards;
  /** The back office's cards, by API key. */
  readonly cardQueries: CardQueries;
}

/** Builds the store, the core and the instruments; opens nothing yet (the store opens on listen). */
export function createApp(config: Config, logger: Logger): App {
  const metrics = createMetrics();
  // Every store call is timed in cp_store_duration_seconds.
  const store = metrics.instrumentStore(openStore(config.store, logger));
  // The merchant's risk rules, built once; velocity counts go through the store.
  const filters = createRequestFilter(buildFilterRules(config.filters), { velocityStore: store });
  const tokens = metrics.countingIssuance(
    createAccessTokens({ store, defaultLifetimeSeconds: config.auth.tokenLifetimeSeconds }),
  );
  const endpoints = createEndpointDirectory(config.endpoints);
  const state = createServingState(store);
  const watcher = createSessionWatcher({
    sessions: store,
    changes: store.changes,
    maxWatches: config.limits.maxWatches,
    maxMs: config.limits.watchMaxSeconds * 1000,
    pollMs: config.limits.watchPollMs,
    stopping: state.drainSignal,
  });
  metrics.readWatchesFrom(
    () => watcher.open,
    () => store.changes.listeners,
  );
  return {
    metrics,
    store,
    state,
    tokens,
    core: createInitiator({ endpoints, store, filters, checkAccessToken: tokens.check }),
    checks: createCheckService({
      endpoints,
      sessions: store,
      tokens: store,
      cards: store,
      checkWindowMs: config.gateway.checkWindowMs,
      changes: store.changes,
    }),
    notifications: createNotificationService({ endpoints, sessions: store, cards: store }),
    sessionQueries: createSessionQueries(store),
    callbacks: createCallbackService({ endpoints, store, changes: store.changes, count: metrics.countCallback }),
    watcher,
    deviceCards: createDeviceCards({ store, checkAccessToken: tokens.check }),
    cardQueries: createCardQueries(store),
  };
}
