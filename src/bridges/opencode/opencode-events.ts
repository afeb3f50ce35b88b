/** OpenCodeEvents: the bridge's one SSE reader of OpenCode's `/event` bus, re-opened after every loss and routed per session. */
import { createParser } from 'eventsource-parser';
import type { Logger } from '../../server.js';

/** One event of OpenCode's bus: `{ type, properties }`. */
export interface OpenCodeEvent {
  type: string;
  properties: Record<string, unknown>;
}

/** Whoever follows one OpenCode session (the turn running on it). */
export interface SessionListener {
  event(event: OpenCodeEvent): void;
  /** The stream was lost: events may have been missed. */
  lost(): void;
  /** The stream is back (after {@link lost}): catch up from OpenCode's stored messages. */
  resumed(): void;
}

/**
 * OpenCode's `/event` has no ids and ignores `Last-Event-ID`: what is sent
 * while nobody listens is gone. This reader keeps one stream open for the
 * bridge's lifetime, reads it continuously, tells listeners when it was lost
 * and when it is back (so they re-read state over REST), and retries with a
 * capped backoff until the bridge closes.
 */
export class OpenCodeEvents {
  #url: string;
  #logger: Logger;
  #listeners = new Map<string, SessionListener>();
  #closed = new AbortController();
  #connected: Promise<void> | undefined;
  #markConnected: (() => void) | undefined;
  #running = false;
  #everConnected = false;

  constructor(baseUrl: string, logger: Logger) {
    this.#url = new URL('event', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).href;
    this.#logger = logger;
  }

  /** Resolves once the stream is open (OpenCode's `server.connected` arrived), opening it on first use. */
  connected(): Promise<void> {
    if (!this.#running) {
      this.#running = true;
      void this.#loop();
    }
    this.#connected ??= new Promise((resolve) => {
      this.#markConnected = resolve;
    });
    return this.#connected;
  }

  listen(sessionId: string, listener: SessionListener): () => void {
    this.#listeners.set(sessionId, listener);
    return () => {
      if (this.#listeners.get(sessionId) === listener) this.#listeners.delete(sessionId);
    };
  }

  close(): void {
    this.#closed.abort();
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#closed.signal.aborted) {
      try {
        await this.#read();
        failures = 0;
      } catch (error) {
        if (this.#closed.signal.aborted) return;
        failures++;
        this.#logger.debug?.({ err: error, failures }, 'agent-tether: OpenCode event stream failed');
      }
      if (this.#closed.signal.aborted) return;
      this.#connected = undefined;
      for (const listener of this.#listeners.values()) listener.lost();
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** Math.min(failures, 5))));
    }
  }

  async #read(): Promise<void> {
    const response = await fetch(this.#url, { headers: { accept: 'text/event-stream' }, signal: this.#closed.signal });
    if (!response.ok || !response.body) throw new Error(`GET /event answered ${response.status}`);
    const parser = createParser({
      onEvent: ({ data }) => {
        let event: OpenCodeEvent;
        try {
          event = JSON.parse(data) as OpenCodeEvent;
        } catch {
          return;
        }
        if (event.type === 'server.connected') return this.#onConnected();
        const sessionId = event.properties?.sessionID;
        if (typeof sessionId === 'string') this.#listeners.get(sessionId)?.event(event);
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    throw new Error('GET /event ended');
  }

  #onConnected(): void {
    const again = this.#everConnected;
    this.#everConnected = true;
    if (!this.#connected) this.#connected = Promise.resolve();
    this.#markConnected?.();
    this.#markConnected = undefined;
    if (again) for (const listener of this.#listeners.values()) listener.resumed();
  }
}
