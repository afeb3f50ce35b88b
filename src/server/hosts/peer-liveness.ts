/** Heartbeat verdicts for one WebSocket peer: alive, half-open, or connected but not reading its output (F6, F10). */

/** What a heartbeat tick decided about the peer. */
export type LivenessVerdict = 'alive' | 'waiting' | 'half-open' | 'not-reading';

/**
 * The liveness bookkeeping of one connection, ticked once per heartbeat.
 *
 * A pong, an incoming message frame or flushed bytes prove the peer is there
 * ({@link PeerLiveness.seen}); a protocol ping only shows it sends ({@link PeerLiveness.heard}).
 * Two silent periods in a row end the connection. Which end it gets depends on why it
 * was silent: a socket whose output is stuck (the write budget is at its high-water
 * mark, or input is still paused because output has not drained to half of it since)
 * or a peer that keeps sending while never answering pings is a peer that stopped
 * reading (closed with 1013 and counted); anything else is a half-open socket. A slow
 * reader that still drains is never cut (F6): every flush counts as a sign of life.
 */
export class PeerLiveness {
  #alive = true;
  #missed = 0;
  #heard = false;

  /** Output was flushed, or a pong or message frame arrived: the peer is there. */
  seen(): void {
    this.#alive = true;
  }

  /** The peer sent a protocol ping (it sends, but that does not show it reads). */
  heard(): void {
    this.#heard = true;
  }

  /**
   * One heartbeat. `outputStuck` is whether the connection's output is held back
   * (budget full, or input still paused waiting for it to drain). On `'waiting'`
   * the caller pings the peer.
   */
  tick(outputStuck: boolean): LivenessVerdict {
    if (this.#alive) {
      this.#missed = 0;
      this.#heard = false;
      this.#alive = false;
      return 'alive';
    }
    if (++this.#missed >= 2) return outputStuck || this.#heard ? 'not-reading' : 'half-open';
    return 'waiting';
  }
}
