/** CodexTurn: one Codex turn's notifications turned into agent chunks, including the text missed while the connection was down. */
import type { ChunkQueue } from '../shared/chunk-queue.js';
import type { ThreadListener } from './codex-connection.js';

/** A Codex turn as `turn/completed`, `thread/turns/list` and `turn/start` describe it. */
export interface CodexTurnInfo {
  id: string;
  status: 'completed' | 'interrupted' | 'failed' | 'inProgress';
  items?: Record<string, unknown>[];
  error?: { message?: string } | null;
}

/** What Codex asked mid-turn (an approval request). */
export interface CodexRequest {
  id: number | string;
  method: string;
  params: Record<string, unknown>;
}

/**
 * Follows one turn on its thread. Notifications that arrive before
 * `turn/start` answered (Codex sends `turn/started` first) are held until the
 * turn id is known; notifications of other turns are ignored (F4).
 *
 * Codex replays nothing, so after a lost connection the deltas sent while it
 * was down are gone. For every agent message that was under way then, the
 * turn stops streaming deltas and, when the message completes, yields its
 * final text minus what was already yielded: clients end up with the exact
 * text, possibly in fewer, larger deltas.
 */
export class CodexTurn implements ThreadListener {
  turnId: string | undefined;
  #queue: ChunkQueue;
  #early: [string, Record<string, unknown>][] = [];
  #yielded = new Map<string, string>();
  #gapped = false;
  #live = new Set<string>();
  #lastError: string | undefined;
  #done!: (turn: CodexTurnInfo) => void;
  #lostWake: (() => void) | undefined;
  readonly #onRequest: (request: CodexRequest) => void;
  /** Resolves with the turn once Codex says it ended. */
  readonly completed: Promise<CodexTurnInfo>;

  constructor(queue: ChunkQueue, onRequest: (request: CodexRequest) => void) {
    this.#queue = queue;
    this.#onRequest = onRequest;
    this.completed = new Promise((resolve) => {
      this.#done = resolve;
    });
  }

  /** The turn id from `turn/start`'s answer; replays what arrived before it. */
  started(turnId: string): void {
    this.turnId = turnId;
    const early = this.#early;
    this.#early = [];
    for (const [method, params] of early) this.notification(method, params);
  }

  /** The message of Codex's last non-retried `error` notification for this turn. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  notification(method: string, params: Record<string, unknown>): void {
    if (this.turnId === undefined) {
      this.#early.push([method, params]);
      return;
    }
    const turnId = params.turnId ?? (params.turn as { id?: unknown } | undefined)?.id;
    if (turnId !== this.turnId) return;
    switch (method) {
      case 'item/agentMessage/delta': {
        const itemId = String(params.itemId);
        if (this.#gapped && !this.#live.has(itemId)) return; // recovered from the final text instead
        const text = String(params.delta ?? '');
        this.#yielded.set(itemId, (this.#yielded.get(itemId) ?? '') + text);
        this.#queue.push({ type: 'delta', text });
        return;
      }
      case 'item/started':
      case 'item/completed': {
        const item = params.item as Record<string, unknown>;
        if (method === 'item/started') this.#live.add(String(item.id));
        else this.#recover(item);
        this.#queue.push({ type: 'item', item: { source: 'codex', event: method, item } });
        return;
      }
      case 'error':
        if (params.willRetry !== true) this.#lastError = (params.error as { message?: string } | undefined)?.message;
        return;
      case 'turn/completed':
        this.finish(params.turn as CodexTurnInfo);
        return;
      default:
    }
  }

  request(id: number | string, method: string, params: Record<string, unknown>): void {
    if (this.turnId !== undefined && params.turnId !== undefined && params.turnId !== this.turnId) return;
    this.#onRequest({ id, method, params });
  }

  /** How many times the connection was lost while this turn ran. */
  losses = 0;

  lost(): void {
    this.#gapped = true;
    this.#live.clear();
    this.losses++;
    const wake = this.#lostWake;
    this.#lostWake = undefined;
    wake?.();
  }

  /** Resolves once the connection was lost more than `seen` times (at once if it already was). */
  whenLost(seen: number): Promise<void> {
    if (this.losses > seen) return Promise.resolve();
    return new Promise((resolve) => {
      this.#lostWake = resolve;
    });
  }

  /** The turn ended (from `turn/completed`, or from a snapshot after a lost connection). */
  finish(turn: CodexTurnInfo): void {
    if (this.#gapped) for (const item of turn.items ?? []) this.#recover(item);
    this.#done(turn);
  }

  /** Yield what a completed agent message holds beyond what was streamed, when deltas were missed. */
  #recover(item: Record<string, unknown>): void {
    if (item.type !== 'agentMessage' || typeof item.text !== 'string') return;
    const id = String(item.id);
    if (!this.#gapped || this.#live.has(id)) return;
    const yielded = this.#yielded.get(id) ?? '';
    if (item.text.length > yielded.length && item.text.startsWith(yielded)) {
      this.#queue.push({ type: 'delta', text: item.text.slice(yielded.length) });
      this.#yielded.set(id, item.text);
    }
    this.#live.add(id); // recovered once; its later copies (the turn's item list) add nothing
  }
}
