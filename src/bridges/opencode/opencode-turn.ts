/** OpenCodeTurn: one prompt's bus events turned into agent chunks, its terminal derived once. */
import type { ChunkQueue } from '../shared/chunk-queue.js';
import type { OpenCodeEvent, SessionListener } from './opencode-events.js';
import type { OpenCodeMessage } from './opencode-rest.js';

/** How the prompt ended in OpenCode. */
export type OpenCodeEnd = { status: 'completed' } | { status: 'aborted' } | { status: 'failed'; message: string };

/** A permission OpenCode asks for mid-turn (`permission.asked`). */
export type OpenCodePermission = Record<string, unknown> & { id: string };

/**
 * Follows the prompt whose user message is `messageId`: its assistant
 * messages are those with `parentID === messageId`. OpenCode sends no turn
 * terminal; it is derived once from the assistant `message.updated` with
 * `time.completed` (a `finish` of `tool-calls` means another step follows),
 * and `session.idle` (often sent twice) only marks the session free.
 *
 * After the event stream was lost, parts under way stop streaming and their
 * final text (from `message.part.updated` or from the stored messages) is
 * yielded minus what was already yielded: clients get the exact text.
 */
export class OpenCodeTurn implements SessionListener {
  readonly messageId: string;
  /** Set when OpenCode showed our user message: the prompt was accepted. */
  confirmed = false;
  #queue: ChunkQueue;
  #assistants = new Set<string>();
  #partTypes = new Map<string, string>();
  #yielded = new Map<string, string>();
  #gapped = false;
  #live = new Set<string>();
  #end: OpenCodeEnd | undefined;
  #sessionError: string | undefined;
  #idle = false;
  #wakers = new Set<() => void>();
  readonly #onPermission: (permission: OpenCodePermission) => void;
  readonly #onResumed: () => void;
  /** When OpenCode says the session is retrying the model (a retryable error). */
  retrying = false;

  constructor(messageId: string, queue: ChunkQueue, hooks: { permission(p: OpenCodePermission): void; resumed(): void }) {
    this.messageId = messageId;
    this.#queue = queue;
    this.#onPermission = hooks.permission;
    this.#onResumed = hooks.resumed;
  }

  get end(): OpenCodeEnd | undefined {
    return this.#end;
  }

  /** Whether OpenCode said the session is idle since the prompt was confirmed. */
  get idle(): boolean {
    return this.#idle;
  }

  /** Resolves at the next change worth re-checking (an event, a loss, a resume). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#wakers.add(resolve));
  }

  #wake(): void {
    const wakers = [...this.#wakers];
    this.#wakers.clear();
    for (const wake of wakers) wake();
  }

  event(event: OpenCodeEvent): void {
    this.#handle(event);
    this.#wake();
  }

  #handle({ type, properties: p }: OpenCodeEvent): void {
    switch (type) {
      case 'message.updated':
        return this.#message(p.info as OpenCodeMessage['info']);
      case 'message.part.updated':
        return this.#part(p.part as OpenCodeMessage['parts'][number]);
      case 'message.part.delta': {
        if (!this.#assistants.has(String(p.messageID)) || p.field !== 'text') return;
        const partId = String(p.partID);
        const known = this.#partTypes.get(partId);
        if (known !== undefined && known !== 'text') return; // reasoning and the like are not the answer
        if (this.#gapped && !this.#live.has(partId)) return; // recovered from the part's final text
        const text = String(p.delta ?? '');
        this.#yielded.set(partId, (this.#yielded.get(partId) ?? '') + text);
        this.#queue.push({ type: 'delta', text });
        return;
      }
      case 'session.status': {
        const status = (p.status as { type?: string } | undefined)?.type;
        this.retrying = status === 'retry';
        if (status === 'idle' && this.confirmed) this.#idle = true;
        if (status === 'busy') this.#idle = false;
        return;
      }
      case 'session.idle':
        if (this.confirmed) this.#idle = true;
        return;
      case 'session.error': {
        const error = p.error as { name?: string; data?: { message?: string } } | undefined;
        if (error?.name !== 'MessageAbortedError') this.#sessionError = error?.data?.message ?? error?.name ?? 'OpenCode failed';
        return;
      }
      case 'permission.asked':
        if ((p.tool as { messageID?: string } | undefined)?.messageID === undefined || this.#assistants.has(String((p.tool as { messageID: string }).messageID))) {
          this.#onPermission(p as OpenCodePermission);
        }
        return;
      default:
    }
  }

  /** The error OpenCode reported for the session during this prompt (`session.error`), if any. */
  get sessionError(): string | undefined {
    return this.#sessionError;
  }

  #message(info: OpenCodeMessage['info'] | undefined): void {
    if (!info) return;
    if (info.id === this.messageId) {
      this.confirmed = true;
      return;
    }
    if (info.role !== 'assistant' || info.parentID !== this.messageId) return;
    this.#assistants.add(info.id);
    const time = info.time as { completed?: number } | undefined;
    const error = info.error as { name?: string; data?: { message?: string } } | undefined;
    if (error) {
      this.#end ??= error.name === 'MessageAbortedError' ? { status: 'aborted' } : { status: 'failed', message: error.data?.message ?? error.name ?? 'OpenCode failed' };
    } else if (time?.completed !== undefined && info.finish !== 'tool-calls') {
      this.#end ??= { status: 'completed' };
    }
  }

  #part(part: OpenCodeMessage['parts'][number] | undefined): void {
    if (!part || !this.#assistants.has(String(part.messageID))) return;
    this.#partTypes.set(part.id, part.type);
    if (part.type === 'text') {
      if (!this.#gapped) this.#live.add(part.id);
      this.#recover(part);
      return;
    }
    if (part.type === 'reasoning') return;
    this.#queue.push({ type: 'item', item: { source: 'opencode', part } });
  }

  #recover(part: OpenCodeMessage['parts'][number]): void {
    if (!this.#gapped || this.#live.has(part.id) || typeof part.text !== 'string') return;
    const yielded = this.#yielded.get(part.id) ?? '';
    if (part.text.length > yielded.length && part.text.startsWith(yielded)) {
      this.#queue.push({ type: 'delta', text: part.text.slice(yielded.length) });
      this.#yielded.set(part.id, part.text);
    }
  }

  lost(): void {
    this.#gapped = true;
    this.#live.clear();
    this.#wake();
  }

  resumed(): void {
    this.#onResumed();
    this.#wake();
  }

  /** Catch up from OpenCode's stored messages (after a lost stream, or when the bus went quiet). */
  catchUp(messages: OpenCodeMessage[]): void {
    for (const message of messages) {
      if (message.info.id === this.messageId) this.confirmed = true;
      if (message.info.parentID !== this.messageId) continue;
      this.#assistants.add(message.info.id);
      for (const part of message.parts) {
        // A text part still being written is recovered once complete; one already done is recovered now.
        if (part.type === 'text' && (part.time as { end?: number } | undefined)?.end === undefined && !this.#end) {
          this.#partTypes.set(part.id, 'text');
          continue;
        }
        this.#part(part);
      }
      this.#message(message.info);
    }
    this.#wake();
  }
}
