/** One WebSocket connection's frames, the same on every socket host: decode, run through the dispatcher, reply. */
import type { EventCursor } from '../core/event-cursor.js';
import { decodeClientFrame } from '../core/request-input.js';
import type { Command, CommandReply } from './command.js';
import type { Dispatcher } from './dispatcher.js';
import { commandOfFrame, subscribeFrameCommand } from './frame-command.js';
import { LatestWins } from './latest-wins.js';
import type { Caller } from '../security/principal.js';

/** What a socket host does for the frames: write, close, and move a session's events. */
export interface FrameHost {
  /** Write one frame (JSON text) to the socket. */
  send(text: string): void;
  /** Close the socket (a bad frame: 1007, 1008). */
  close(code: number, reason: string): void;
  /** Whether the socket is still open. */
  isOpen(): boolean;
  /** Stream a session's events from `cursor`, replacing a stream of it already running. */
  startStream(sessionId: string, cursor: EventCursor): void;
  stopStream(sessionId: string): void;
  /** Called before a command frame (not a ping) runs; may throw an injected failure. */
  beforeCommand?(): void;
  /** Runs a decoded command (the Node host checks its limits first). @default dispatcher.run */
  run?(command: Command): Promise<CommandReply>;
  /** Deepest JSON nesting accepted in a frame. @default 64 */
  maxJsonDepth?: number;
}

/**
 * The protocol's frames over one socket: `ping` → `pong`, every other frame a
 * command whose `reply` carries the dispatcher's answer. A later subscribe or
 * unsubscribe of a session wins over a subscribe of it still running.
 */
export class FrameSession {
  readonly #dispatcher: Dispatcher;
  readonly #clientId: string;
  readonly #host: FrameHost;
  readonly #latest = new LatestWins();
  readonly #caller: Caller;

  /** `caller`: who opened the socket, as the upgrade authenticated it; every command of the socket runs as it. */
  constructor(dispatcher: Dispatcher, clientId: string, host: FrameHost, caller: Caller = {}) {
    this.#dispatcher = dispatcher;
    this.#clientId = clientId;
    this.#host = host;
    this.#caller = caller;
  }

  /** Handle one message: its text, or `undefined` for a binary one. Never rejects. */
  async receive(text: string | undefined): Promise<void> {
    const host = this.#host;
    const decoded = decodeClientFrame(text, host.maxJsonDepth);
    if ('close' in decoded) return host.close(decoded.close, decoded.reason);
    const frame = decoded.frame;
    if (frame.type === 'ping') return host.send(JSON.stringify(frame.time === undefined ? { type: 'pong' } : { type: 'pong', time: frame.time }));
    try {
      host.beforeCommand?.();
    } catch (error) {
      return this.#reply(frame.id, this.#dispatcher.fail(error, 'frame'));
    }
    switch (frame.type) {
      case 'unsubscribe':
        this.#latest.take(frame.sessionId);
        host.stopStream(frame.sessionId);
        return this.#reply(frame.id, { ok: true, status: 200, json: '{}' });
      case 'subscribe': {
        const ticket = this.#latest.take(frame.sessionId);
        const result = await this.#run({ ...subscribeFrameCommand(frame), caller: this.#caller });
        this.#reply(frame.id, result);
        if (result.ok && result.cursor && host.isOpen() && this.#latest.isCurrent(frame.sessionId, ticket)) {
          host.startStream(frame.sessionId, result.cursor);
        }
        return;
      }
      default:
        return this.#reply(frame.id, await this.#run({ ...commandOfFrame(frame, this.#clientId), caller: this.#caller }));
    }
  }

  async #run(command: Command): Promise<CommandReply> {
    if (!this.#host.run) return this.#dispatcher.run(command, 'frame');
    try {
      return await this.#host.run(command);
    } catch (error) {
      return this.#dispatcher.fail(error, 'frame');
    }
  }

  /** A command's reply as a `reply` frame: its JSON result, or its error. */
  #reply(id: string, result: CommandReply): void {
    this.#host.send(
      result.ok
        ? `{"type":"reply","id":${JSON.stringify(id)},"ok":true,"result":${result.json}}`
        : JSON.stringify({ type: 'reply', id, ok: false, error: result.error }),
    );
  }
}
