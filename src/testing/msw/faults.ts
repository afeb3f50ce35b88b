/** The faults the msw handlers inject on request: dropped streams, error replies, slow streams, refused WebSockets. */
import { ServerError } from '../../server.js';

/** An error reply that {@link MswFaults.failNext} injects. */
export interface InjectedError {
  /** @default 503 */
  status?: number;
  /** @default 'unavailable' */
  code?: string;
  /** @default 'Injected failure' */
  message?: string;
}

/** Faults of the in-memory server; each stays in force until changed (`heal()` clears all). */
export interface MswFaults {
  /**
   * Each event stream opened from now on (an SSE response or a WebSocket)
   * drops after delivering `n` events (a WebSocket counts the events of all its
   * subscriptions): SSE errors its body mid-stream (msw in Node shows that to
   * `fetch` as the body ending — a stream ending without a terminal), a
   * WebSocket closes with 1006, no clean close. `null` turns it off.
   */
  dropStreamsAfter(n: number | null): void;
  /**
   * The next `count` commands (HTTP `POST`/`GET` except event streams, and
   * WebSocket command frames) fail with `error` instead of running.
   * @default count 1
   */
  failNext(count?: number, error?: InjectedError): void;
  /** Waits `ms` before delivering each event (SSE, WebSocket, long-poll). `null`: off. */
  slowStreams(ms: number | null): void;
  /** While on, WebSocket connections are closed (1006) before the welcome frame. */
  refuseWebSocket(on: boolean): void;
  /** Turns every fault off. */
  heal(): void;
}

/** The faults in force, as the handlers read them. */
export class MswFaultState {
  dropAfter: number | null = null;
  failures: Array<Required<InjectedError>> = [];
  slowMs = 0;
  refuseWebSocket = false;

  /** The next injected failure, if one is due; it is used up. */
  takeFailure(): ServerError | undefined {
    const failure = this.failures.shift();
    return failure && new ServerError(failure.code, failure.message, failure.status);
  }

  /** A drop budget for a stream opened now: `null` when streams do not drop. */
  dropBudget(): { left: number } | null {
    return this.dropAfter === null ? null : { left: this.dropAfter };
  }
}

/** The public face of `state`, checking each argument. */
export function mswFaults(state: MswFaultState): MswFaults {
  return {
    dropStreamsAfter(n) {
      if (n !== null && !(Number.isSafeInteger(n) && n >= 0)) {
        throw new TypeError('dropStreamsAfter: `n` must be a non-negative integer or null');
      }
      state.dropAfter = n;
    },
    failNext(count = 1, error = {}) {
      if (!(Number.isSafeInteger(count) && count >= 1)) throw new TypeError('failNext: `count` must be a positive integer');
      const status = error.status ?? 503;
      if (!(Number.isInteger(status) && status >= 400 && status <= 599)) {
        throw new TypeError('failNext: `status` must be an HTTP error status (400–599)');
      }
      const failure = { status, code: error.code ?? 'unavailable', message: error.message ?? 'Injected failure' };
      for (let i = 0; i < count; i++) state.failures.push(failure);
    },
    slowStreams(ms) {
      if (ms !== null && !(Number.isFinite(ms) && ms >= 0)) throw new TypeError('slowStreams: `ms` must be a non-negative number or null');
      state.slowMs = ms ?? 0;
    },
    refuseWebSocket(on) {
      if (typeof on !== 'boolean') throw new TypeError('refuseWebSocket: `on` must be a boolean');
      state.refuseWebSocket = on;
    },
    heal() {
      state.dropAfter = null;
      state.failures = [];
      state.slowMs = 0;
      state.refuseWebSocket = false;
    },
  };
}
