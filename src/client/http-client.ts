import { ConnectionError, HttpError, ProtocolError, TetherError, TimeoutError } from '../errors/index.js';
import type { Clock } from '../internal/clock.js';
import type { Check } from '../protocol/checks.js';
import { headers as headerNames } from '../protocol/constants.js';
import { endpoint, httpErrorFrom, parseRetryAfter, requestHeaders } from '../transport/http.js';
import { parseJson, validateFrame } from '../transport/validate-event.js';
import { backoffDelay } from './backoff.js';
import type { Logger } from './options.js';

/** Statuses worth retrying (besides network errors): overload and transient gateway failures. */
const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

export interface HttpClientOptions {
  baseUrl: URL;
  clientId: string;
  getHeaders(): Promise<Record<string, string>>;
  fetch: typeof globalThis.fetch;
  clock: Clock;
  requestTimeoutMs: number;
  logger: Logger;
  /** Chance for the retry delays' jitter (injected by tests). */
  random: () => number;
  /** Retries after the first attempt. @default 4 */
  retries?: number;
}

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

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * The HTTP side of commands. Every call has one deadline (`requestTimeoutMs`,
 * retries included) and can be aborted; network errors, 408/429/5xx are retried
 * with backoff on the injected clock (Retry-After honoured), other 4xx are not. Callers make retries
 * safe (prompts always carry an idempotency key).
 */
export class HttpClient {
  readonly #o: HttpClientOptions;
  /** Aborted by `close()`: every in-flight fetch stops (F7). */
  readonly #closing = new AbortController();

  constructor(options: HttpClientOptions) {
    this.#o = options;
  }

  url(path: string, query: Record<string, string | number | undefined> = {}): URL {
    return endpoint(this.#o.baseUrl, path, query);
  }

  async request<T>(method: string, path: string, options: RequestOptions<T>): Promise<T> {
    const { clock, requestTimeoutMs } = this.#o;
    const controller = new AbortController();
    const timeout = new TimeoutError(`${method} ${path} took longer than ${requestTimeoutMs} ms`);
    const timer = clock.setTimeout(() => controller.abort(timeout), requestTimeoutMs);
    const onAbort = (signal: AbortSignal) => () => controller.abort(abortReason(signal));
    const userAbort = options.signal && onAbort(options.signal);
    const closeAbort = onAbort(this.#closing.signal);
    if (options.signal?.aborted) controller.abort(abortReason(options.signal));
    if (this.#closing.signal.aborted) controller.abort(abortReason(this.#closing.signal));
    options.signal?.addEventListener('abort', userAbort!, { once: true });
    this.#closing.signal.addEventListener('abort', closeAbort, { once: true });
    const signal = controller.signal;
    const retries = this.#o.retries ?? 4;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.#once<T>(method, path, options, signal);
        } catch (error) {
          if (signal.aborted) throw signal.reason;
          const retryable = error instanceof HttpError ? RETRYABLE_STATUS.has(error.status) : !(error instanceof ProtocolError);
          if (!retryable || attempt > retries) throw error;
          this.#o.logger.debug?.(`agent-tether: ${method} ${path} failed (${(error as Error).message}); retrying`);
          options.onRetry?.();
          const hint = (error as { retryAfterMs?: number }).retryAfterMs ?? 0;
          await this.#sleep(Math.max(hint, backoffDelay(attempt, RETRY_BACKOFF, this.#o.random)), signal);
        }
      }
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof TetherError) throw error;
      throw new ConnectionError(`${method} ${path} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    } finally {
      clock.clearTimeout(timer);
      options.signal?.removeEventListener('abort', userAbort!);
      this.#closing.signal.removeEventListener('abort', closeAbort);
    }
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = this.#o.clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        this.#o.clock.clearTimeout(timer);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async #once<T>(method: string, path: string, options: RequestOptions<T>, signal: AbortSignal): Promise<T> {
    const headers = requestHeaders(await this.#o.getHeaders(), this.#o.clientId, 'application/json');
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.idempotencyKey !== undefined) headers[headerNames.idempotencyKey] = options.idempotencyKey;
    let response: Response;
    try {
      response = await this.#o.fetch(this.url(path, options.query), {
        method,
        headers,
        body: options.body === undefined ? null : JSON.stringify(options.body),
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new ConnectionError(`${method} ${path}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
    if (!response.ok) {
      const error = await httpErrorFrom(response, `${method} ${path}`);
      const retryAfterMs = parseRetryAfter(response.headers.get(headerNames.retryAfter), this.#o.clock.now());
      if (retryAfterMs !== undefined) Object.assign(error, { retryAfterMs });
      throw error;
    }
    const what = `reply to ${method} ${path}`;
    const text = await response.text();
    return validateFrame(options.check, text === '' ? undefined : parseJson(text, what), what);
  }

  /** Abort every in-flight request (F7): they reject with `reason`. */
  close(reason: unknown): void {
    this.#closing.abort(reason);
  }
}
