import { replyChecks } from '../protocol/checks.js';
import { routes } from '../protocol/constants.js';
import type { PromptReply as PromptReplyType, SessionSnapshot } from '../protocol/index.js';
import type { ClientContext } from './context.js';
import { SubscriptionImpl, type SubscribeOptions, type Subscription } from './subscription.js';
import { TurnImpl, type Turn } from './turn.js';

/** Options of `session.prompt`. */
export interface PromptOptions {
  /** Same key (in the same session) → same turn; resends are safe. @default a random UUID per call */
  idempotencyKey?: string | undefined;
  /** Aborting rejects the call with `signal.reason` (the turn, if already accepted, keeps running: F2). */
  signal?: AbortSignal | undefined;
}

/**
 * One agent session on the server.
 *
 * @example
 * const session = client.session('s_123');
 * const turn = await session.prompt('Rename foo to bar');
 */
export interface Session {
  readonly id: string;
  /** Start a turn. Resolves once the server accepted it (the turn may still be queued). */
  prompt(text: string, options?: PromptOptions): Promise<Turn>;
  /** Attach to a turn started anywhere: its events from its start (replayed), then live. */
  turn(turnId: string): Turn;
  /** The session's events, each once, in order, across reconnects. */
  subscribe(options?: SubscribeOptions): Subscription;
  /** The session's current state from the server. */
  snapshot(options?: { signal?: AbortSignal }): Promise<SessionSnapshot>;
}

/** @internal */
export class SessionImpl implements Session {
  readonly id: string;
  readonly #ctx: ClientContext;

  constructor(ctx: ClientContext, id: string) {
    this.#ctx = ctx;
    this.id = id;
  }

  async prompt(text: string, options: PromptOptions = {}): Promise<Turn> {
    if (typeof text !== 'string') throw new TypeError('prompt: `text` must be a string');
    // Always keyed, so a resend after a dropped reply cannot start a second turn (F9).
    const idempotencyKey = options.idempotencyKey ?? globalThis.crypto.randomUUID();
    if (typeof idempotencyKey !== 'string' || idempotencyKey.length === 0 || idempotencyKey.length > 256) {
      throw new TypeError('prompt: `idempotencyKey` must be a string of 1 to 256 characters');
    }
    const reply = await this.#ctx.command<PromptReplyType>('prompt', {
      frame: { type: 'prompt', sessionId: this.id, prompt: text, idempotencyKey },
      http: (signal) =>
        this.#ctx.http.request('POST', routes.turns(this.id), {
          body: { prompt: text, clientId: this.#ctx.options.clientId },
          idempotencyKey,
          signal,
          check: replyChecks.prompt,
        }),
      signal: options.signal,
    });
    return this.#turnFor(reply.turn.id, (turn) => turn.attach(reply.turn));
  }

  turn(turnId: string): Turn {
    if (typeof turnId !== 'string' || turnId === '') throw new TypeError('turn: `turnId` must be a non-empty string');
    return this.#turnFor(turnId, (turn) => turn.attachById());
  }

  /** One live handle per turn: the same idempotency key, or attaching twice, gives the same `Turn`. */
  #turnFor(turnId: string, attach: (turn: TurnImpl) => void): TurnImpl {
    const existing = this.#ctx.turns.get(`${this.id}/${turnId}`);
    if (existing) return existing;
    const turn = new TurnImpl(this.#ctx, this.id, turnId);
    if (this.#ctx.closed) turn.closeLocally();
    else attach(turn);
    return turn;
  }

  subscribe(options: SubscribeOptions = {}): Subscription {
    return new SubscriptionImpl(this.#ctx, this.id, options);
  }

  snapshot(options: { signal?: AbortSignal } = {}): Promise<SessionSnapshot> {
    return this.#ctx.snapshot(this.id, options.signal);
  }
}
