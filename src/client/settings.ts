/** The client's settings after defaults: the resolved public options plus the internal knobs tests drive. */
import { systemClock, type Clock } from '../internal/clock.js';
import { createTransport } from '../transport/index.js';
import { TransportLadder, type LadderOptions } from '../transport/ladder.js';
import type { Transport, TransportEvents, TransportName, TransportOptions } from '../transport/transport.js';
import { resolveOptions, type ClientOptions, type ResolvedClientOptions } from './options.js';

/** The parts of `TransportLadder` the manager uses (the real one, or a test double). */
export interface Ladder {
  readonly current: TransportName;
  report(name: TransportName, outcome: { opened: boolean }): void;
  shouldProbeUpgrade(): boolean;
  upgraded(name: TransportName): void;
}

/** Creates one transport attempt (`createTransport` of `src/transport`, or a fake in tests). */
export type TransportFactory = (name: TransportName, options: TransportOptions, events: TransportEvents) => Transport;

/** Settings that are not public options: tests set them to drive time, chance and transports. */
export interface InternalSettings {
  clock: Clock;
  random: () => number;
  createTransport: TransportFactory;
  createLadder: (options: LadderOptions) => Ladder;
  /** An attempt that stays open this long proved itself (so does one that delivers an event). @default 5000 */
  stableAfterMs: number;
  /** How often to ask the ladder whether to probe the top transport again. @default 60_000 */
  upgradeAfterMs: number;
  /** Long-poll: how long the server may hold a request open. @default 25_000 */
  pollWaitMs: number;
  /** Delay before a canceled turn without a terminal is fetched over HTTP (F5). @default 2000 */
  terminalGraceMs: number;
  /** A turn accepted while the connection still opens reads its first events over HTTP meanwhile. @default true */
  bridgeFirstEvents: boolean;
}

/**
 * Internal hooks of `createClientWith` (tests); not public API. Each one
 * given replaces its default; one left out or set to `undefined` keeps it.
 * The public timing options may be overridden here as well.
 */
export type ClientHooks = { [K in keyof InternalSettings]?: InternalSettings[K] | undefined } & {
  heartbeatTimeoutMs?: number | undefined;
  openTimeoutMs?: number | undefined;
};

/** Everything the client's parts read: options and internal settings, resolved once. */
export type ClientSettings = ResolvedClientOptions & InternalSettings;

/** Defaults of the internal settings. */
const INTERNAL_DEFAULTS: InternalSettings = {
  clock: systemClock,
  random: Math.random,
  createTransport,
  createLadder: (options) => new TransportLadder(options),
  stableAfterMs: 5000,
  upgradeAfterMs: 60_000,
  pollWaitMs: 25_000,
  terminalGraceMs: 2000,
  bridgeFirstEvents: true,
};

/** Validate `options`, then lay the hooks over the defaults field by field (an `undefined` hook never wipes a default). */
export function resolveSettings(options: ClientOptions, hooks: ClientHooks = {}): ClientSettings {
  const settings: ClientSettings = { ...resolveOptions(options), ...INTERNAL_DEFAULTS };
  for (const key of Object.keys(hooks) as Array<keyof ClientHooks>) {
    const value = hooks[key];
    if (value !== undefined) (settings as unknown as Record<string, unknown>)[key] = value;
  }
  return settings;
}
