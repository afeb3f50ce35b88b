/**
 * One direction of a proxied connection: the queue of chunks and the loop
 * that forwards them under the proxy's current faults.
 */
import type { Socket } from 'node:net';
import { sleep, systemClock } from '../internal/clock.js';
import type { ConnectionHost, DirectionStats, ProxyConnection, ProxyDirection } from './proxy-connection.js';

interface Chunk {
  bytes: Buffer;
  at: number;
}

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/**
 * One direction of a connection. Chunks queue here; a single loop forwards
 * them, honouring stall, delay, slicing and SSE buffering, and backpressure
 * in both directions: the source is paused while more than
 * `maxBufferedBytes` wait, and the loop waits for `drain` on the destination.
 */
export class Pipe {
  readonly stats: DirectionStats = { received: 0, forwarded: 0, pending: 0, writes: 0 };
  #queue: Chunk[] = [];
  #sourceEnded = false;
  #endSent = false;
  #running = false;
  #disposed = false;
  /** Aborted to end the loop's current sleep early: a fault changed, or the pipe is disposed. */
  #wake = new AbortController();
  /** Resolvers of in-flight writes, released on dispose in case a callback never comes. */
  #inFlight = new Set<() => void>();

  constructor(
    readonly connection: ProxyConnection,
    readonly direction: ProxyDirection,
    readonly source: Socket,
    readonly destination: Socket,
    readonly host: ConnectionHost,
  ) {}

  push(bytes: Buffer): void {
    if (this.#disposed || this.connection.draining || bytes.length === 0) return;
    this.stats.received += bytes.length;
    this.stats.pending += bytes.length;
    this.#queue.push({ bytes, at: Date.now() });
    if (this.stats.pending > this.host.maxBufferedBytes) this.source.pause();
    this.kick();
  }

  end(): void {
    this.#sourceEnded = true;
    this.kick();
  }

  drop(): void {
    this.#queue = [];
    this.stats.pending = 0;
  }

  /** Starts the forwarding loop if it is idle, or wakes it if it waits for a fault to lift. */
  kick(): void {
    if (this.#disposed) return;
    this.#wake.abort();
    this.#wake = new AbortController();
    if (this.#running) return;
    this.#running = true;
    void this.#run().finally(() => {
      this.#running = false;
    });
  }

  dispose(): void {
    this.#disposed = true;
    this.drop();
    this.#wake.abort();
    for (const release of this.#inFlight) release();
    this.#inFlight.clear();
  }

  #held(): boolean {
    const { faults } = this.host;
    if (faults.stall[this.direction]) return true;
    return this.direction === 'down' && faults.bufferSse && this.connection.sseBody;
  }

  #gone(): boolean {
    return this.#disposed || this.destination.destroyed || this.connection.draining;
  }

  async #run(): Promise<void> {
    while (!this.#gone()) {
      const chunk = this.#queue[0];
      if (chunk === undefined) {
        if (this.#sourceEnded && !this.#endSent && !this.#held()) {
          this.#endSent = true;
          this.destination.end();
        }
        return;
      }
      if (this.#held()) return; // kick() restarts the loop when the fault lifts
      const { delayMs } = this.host.faults;
      const due = chunk.at + delayMs - Date.now();
      if (delayMs > 0 && due > 0) {
        await this.#sleep(due);
        continue;
      }
      this.#queue.shift();
      let bytes = chunk.bytes;
      if (this.direction === 'down' && this.connection.sseHeadPending) {
        // Pass the SSE response's head; anything after it is body, which bufferSse may hold.
        const headEnd = findHeadEnd(this.connection, bytes);
        if (headEnd !== -1) {
          this.connection.sseHeadPending = false;
          this.connection.sseBody = true;
          if (headEnd < bytes.length) this.#queue.unshift({ bytes: bytes.subarray(headEnd), at: chunk.at });
          bytes = bytes.subarray(0, headEnd);
        }
      }
      const slice = this.host.faults.sliceBytes;
      if (slice !== null && bytes.length > slice) {
        // Write one slice, put the rest back: a stall or reset between slices takes effect at once.
        this.#queue.unshift({ bytes: bytes.subarray(slice), at: chunk.at });
        bytes = bytes.subarray(0, slice);
      }
      await this.#write(bytes);
      if (slice !== null && this.host.faults.sliceDelayMs > 0) await this.#sleep(this.host.faults.sliceDelayMs);
    }
  }

  /** Writes and waits until the bytes left the process, so each slice is a separate segment. */
  async #write(bytes: Buffer): Promise<void> {
    this.stats.pending -= bytes.length;
    this.stats.forwarded += bytes.length;
    this.stats.writes++;
    if (this.source.isPaused() && this.stats.pending <= this.host.maxBufferedBytes / 2 && !this.source.destroyed) {
      this.source.resume();
    }
    await new Promise<void>((resolve) => {
      this.#inFlight.add(resolve);
      this.destination.write(bytes, () => {
        this.#inFlight.delete(resolve);
        resolve();
      });
    });
    if (this.destination.writableNeedDrain && !this.#gone()) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.destination.off('drain', done);
          this.destination.off('close', done);
          resolve();
        };
        this.destination.on('drain', done);
        this.destination.on('close', done);
      });
    }
  }

  /** Waits `ms`; a fault change wakes the loop early, and it re-checks everything before forwarding. */
  #sleep(ms: number): Promise<void> {
    return sleep(systemClock, ms, this.#wake.signal);
  }
}

/**
 * Where the response head ends in `bytes` (index just past `\r\n\r\n`), or -1.
 * Tracks a terminator split across chunks in `connection.sseHeadMatched`.
 */
function findHeadEnd(connection: ProxyConnection, bytes: Buffer): number {
  let matched = connection.sseHeadMatched;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === HEAD_END[matched]) matched++;
    else matched = bytes[i] === HEAD_END[0] ? 1 : 0;
    if (matched === HEAD_END.length) {
      connection.sseHeadMatched = 0;
      return i + 1;
    }
  }
  connection.sseHeadMatched = matched;
  return -1;
}
