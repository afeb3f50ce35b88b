/** The fault proxy's options, their defaults, and their checks. */
import { describeValue } from '../internal/describe-value.js';

/** Where the proxy forwards to. */
export type FaultProxyTarget = string | URL | { host?: string; port: number };

/** Options of `createFaultProxy`. */
export interface FaultProxyOptions {
  /**
   * The server to forward to: a URL (`http://127.0.0.1:4317`, `ws://…`; only host
   * and port are used) or `{ host, port }`.
   */
  target: FaultProxyTarget;
  /**
   * Interface to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port to listen on; `0` picks a free one.
   * @default 0
   */
  port?: number;
  /**
   * Most bytes held per connection and direction (behind a stall, a delay or a
   * buffered SSE body) before the proxy stops reading from the sender, so TCP
   * backpressure reaches it. Memory stays bounded.
   * @default 1048576
   */
  maxBufferedBytes?: number;
}

/** {@link FaultProxyOptions} after defaults, with the target resolved. */
export interface ResolvedFaultProxyOptions {
  target: { host: string; port: number };
  host: string;
  port: number;
  maxBufferedBytes: number;
}

/** Defaults of {@link FaultProxyOptions}. */
export const FAULT_PROXY_DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  maxBufferedBytes: 1024 * 1024,
} as const satisfies Required<Omit<FaultProxyOptions, 'target'>>;

/** The options checked, with defaults and the target resolved: each bad field is a `TypeError` naming it. */
export function resolveOptions(options: FaultProxyOptions): ResolvedFaultProxyOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`createFaultProxy: \`options\` must be an object with a \`target\`, got ${describeValue(options)}`);
  }
  const host = options.host ?? FAULT_PROXY_DEFAULTS.host;
  if (typeof host !== 'string' || host === '') {
    throw new TypeError(`createFaultProxy: \`host\` must be a non-empty string, got ${describeValue(host)}`);
  }
  const port = options.port ?? FAULT_PROXY_DEFAULTS.port;
  if (!isPort(port)) throw new TypeError(`createFaultProxy: \`port\` must be an integer 0–65535, got ${describeValue(port)}`);
  const maxBufferedBytes = options.maxBufferedBytes ?? FAULT_PROXY_DEFAULTS.maxBufferedBytes;
  if (!(Number.isSafeInteger(maxBufferedBytes) && maxBufferedBytes >= 1)) {
    throw new TypeError(`createFaultProxy: \`maxBufferedBytes\` must be a positive integer, got ${describeValue(maxBufferedBytes)}`);
  }
  return { target: resolveTarget(options.target), host, port, maxBufferedBytes };
}

function resolveTarget(target: FaultProxyTarget): { host: string; port: number } {
  const resolved = parseTarget(target);
  if (resolved) return resolved;
  throw new TypeError(`createFaultProxy: \`target\` must be a URL with a host and port, or { host, port }, got ${describeValue(target)}`);
}

/** `target` as `{ host, port }` (a URL's host and port, defaults by scheme), or `undefined` when it names no reachable port. */
export function parseTarget(target: FaultProxyTarget): { host: string; port: number } | undefined {
  if (typeof target === 'string' || target instanceof URL) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return undefined;
    }
    const defaults: Record<string, number> = { 'http:': 80, 'ws:': 80, 'https:': 443, 'wss:': 443 };
    const port = url.port === '' ? defaults[url.protocol] : Number(url.port);
    if (url.hostname === '' || port === undefined) return undefined;
    return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
  }
  if (typeof target === 'object' && target !== null && isPort(target.port) && target.port !== 0) {
    const host = target.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '') return undefined;
    return { host, port: target.port };
  }
  return undefined;
}

export function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
}
