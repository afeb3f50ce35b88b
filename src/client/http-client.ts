import { ConnectionError, HttpError, TetherError, TimeoutError } from '../errors/index.js';
import { sleep } from '../internal/clock.js';
import type { Check } from '../protocol/checks.js';
import { headers as headerNames } from '../protocol/constants.js';
import { authorizationOf } from '../transport/bearer.js';
import { endpoint, httpErrorFrom, parseRetryAfter, readText, requestHeaders } from '../transport/http.js';
import { parseJson, validateFrame } from '../transport/validate-event.js';
import { backoffDelay } from './backoff.js';
import type { ResolvedClientOptions } from './options.js';
import type { InternalSettings } from './settings.js';

/** Statuses worth retrying (besides network errors): overload and transient gateway failures. */
const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** Whether another try may succeed: a network failure or overload (a 408/429/5xx), not a bad reply, another 4xx or a failing `headers` function. */
export function isRetryable(error: unknown): boolean {
  return error instanceof HttpError ? RETRYABLE_STATUS.has(error.status) : error instanceof ConnectionError;
}

/** Retries after the first attempt. */
const RETRIES = 4;

/** What the HTTP client uses of the client's settings: its options, clock and chance (for the retry jitter, injected by tests). */
export type HttpClientOptions = Pick<
  ResolvedClientOptions,
  'baseUrl' | 'clientId' | 'getHeaders' | 'fetch' | 'requestTimeoutMs' | 'maxMessageBytes' | 'logger'
> &
  Pick<InternalSettings, 'clock' | 'random'>;

/** Delays between HTTP retries: 200 ms doubling up to 5 s, full jitter (the reconnect formula). */
const RETRY_BACKOFF = { initialDelayMs: 200, maxDelayMs: 5000, factor: 2, jitter: 'full' } as const;

export interface RequestOptions<T> {
  body?: unknown;
  /** Query parameters; `undefined` values are left out. */
  query?: Record<string, string | number | undefined> | undefined;
  idempotencyKey?: string | undefined;
  signal?: AbortSignal | undefined;
  /** What the 2xx JSON reply must be; anything else rejects with `ProtocolError`. */
  check: Check<T>;
  /** Called before each retry (the previous attempt may have reached the server). */
  onRetry?: (() => void) | undefined;
}

/**
 * The HTTP side of commands. Every call has one deadline (`requestTimeoutMs`,
 * retries included) and can be aborted; network errors, 408/429/5xx are retried
 * with backoff on the injected clock (Retry-After honoured), other 4xx are not. Callers make retries
 * safe (prompts always carry an idempotency key).
 */
export class HttpClient {
  readonly #settings: HttpClientOptions;
  /** Aborted by `close()`: every in-flight fetch stops (F7). */
  readonly #closing = new AbortController();

  constructor(options: HttpClientOptions) {
    this.#settings = options;
  }

  async request<T>(method: string, path: string, options: RequestOptions<T>): Promise<T> {
    const { clock, requestTimeoutMs } = this.#settings;
    const what = `${method} ${path}`;
    const controller = new AbortController();
    const { signal } = controller;
    const timer = clock.setTimeout(() => controller.abort(new TimeoutError(`${what} took longer than ${requestTimeoutMs} ms`)), requestTimeoutMs);
    // The caller's abort and close() both end the request, with their own reason.
    const sources = [options.signal, this.#closing.signal];
    const abort = (source: AbortSignal) => controller.abort(source.reason ?? new DOMException('This operation was aborted', 'AbortError'));
    const onAbort = (event: Event) => abort(event.target as AbortSignal);
    for (const source of sources) {
      if (source?.aborted) abort(source);
      source?.addEventListener('abort', onAbort);
    }
    try {
      /** Headers of the next attempt, when already read (a fresh token after a 401). */
      let next: Record<string, string> | undefined;
      let retriedAuth = false;
      for (let attempt = 1; ; attempt++) {
        if (signal.aborted) throw signal.reason;
        const headers = next ?? (await this.#settings.getHeaders());
        next = undefined;
        try {
          return await this.#once<T>(method, path, options, signal, what, headers);
        } catch (error) {
          // A 401 is final for this token: one more try only with a different one (it was refreshed), never a loop.
          if (!retriedAuth && error instanceof HttpError && error.status === 401 && !signal.aborted) {
            retriedAuth = true;
            const fresh = await this.#settings.getHeaders();
            if (authorizationOf(fresh) !== authorizationOf(headers)) {
              this.#settings.logger.debug?.({}, `agent-tether: ${what} got 401; retrying once with a fresh token`);
              next = fresh;
              continue;
            }
          }
          if (signal.aborted || !isRetryable(error) || attempt > RETRIES) throw error;
          this.#settings.logger.debug?.({ err: error }, `agent-tether: ${what} failed (${(error as Error)?.message}); retrying`);
          options.onRetry?.();
          const delay = Math.max((error as { retryAfterMs?: number }).retryAfterMs ?? 0, backoffDelay(attempt, RETRY_BACKOFF, this.#settings.random));
          // Sleep on the injected clock; an abort ends the sleep (and the request) at once.
          await sleep(clock, delay, signal);
          if (signal.aborted) throw signal.reason;
        }
      }
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof TetherError) throw error;
      // A failing `headers` function (or anything else unexpected).
      throw new ConnectionError(`${what} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    } finally {
      clock.clearTimeout(timer);
      for (const source of sources) source?.removeEventListener('abort', onAbort);
    }
  }

  async #once<T>(method: string, path: string, options: RequestOptions<T>, signal: AbortSignal, what: string, base: Record<string, string>): Promise<T> {
    const { body, idempotencyKey } = options;
    const headers = requestHeaders(base, this.#settings.clientId, 'application/json');
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey !== undefined) headers[headerNames.idempotencyKey] = idempotencyKey;
    const payload = body === undefined ? null : JSON.stringify(body);
    // The network failed (fetch rejected, or the body broke off): a `ConnectionError`, retried.
    const network = (error: unknown): never => {
      if (signal.aborted || error instanceof TetherError) throw error;
      throw new ConnectionError(`${what} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    };
    const response = await this.#settings
      .fetch(endpoint(this.#settings.baseUrl, path, options.query ?? {}), { method, headers, body: payload, signal })
      .catch(network);
    if (!response.ok) {
      const error = await httpErrorFrom(response, what);
      const retryAfterMs = parseRetryAfter(response.headers.get(headerNames.retryAfter), this.#settings.clock.now());
      if (retryAfterMs !== undefined) Object.assign(error, { retryAfterMs });
      throw error;
    }
    what = `reply to ${what}`;
    // Bounded (F6): a reply over `maxMessageBytes` is a ProtocolError, not retried, never the client's memory.
    const text = await readText(response, this.#settings.maxMessageBytes, what).catch(network);
    return validateFrame(options.check, text === '' ? undefined : parseJson(text, what), what);
  }

  /** Abort every in-flight request (F7): they reject with `reason`. */
  close(reason: unknown): void {
    this.#closing.abort(reason);
  }
}
