/**
 * What the cluster tests observe: clients on the balancer that each keep a session
 * subscription and record every event with the time it arrived, the server's own log
 * (read from any live node), and the check that a recording equals that log.
 */
import type { ClientOptions, SessionEvent, SubscriptionEvent, TransportName } from '../../src/index.js';
import { recordingClient, type Recorded } from '../integration/helpers.js';

export const TERMINALS = new Set(['turn.completed', 'turn.canceled', 'turn.error']);

/** The ladders the watchers use, in turn: every transport gets killed under. */
export const LADDERS: readonly (readonly TransportName[])[] = [['websocket', 'sse', 'poll'], ['sse'], ['poll'], ['websocket']];

/** One client subscribed to a session, recording what it is given and when. */
export interface Watcher {
  readonly name: string;
  readonly rec: Recorded;
  readonly events: Array<{ event: SubscriptionEvent; at: number }>;
  /** Resolves with the first recorded event (from index `from`) matching `predicate`. */
  next(predicate: (event: SubscriptionEvent) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<{ event: SubscriptionEvent; at: number }>;
  close(): Promise<void>;
}

/**
 * A client on `baseUrl` (transports from `ladder`) subscribed to `sessionId` from seq 1.
 * It reconnects fast (10 ms, no jitter) unless `options.reconnect` says otherwise.
 */
export function watch(baseUrl: string, sessionId: string, name: string, ladder: readonly TransportName[], options: Partial<ClientOptions> = {}): Watcher {
  const rec = recordingClient({ baseUrl, clientId: name, transports: ladder, requestTimeoutMs: 5000, ...options });
  const events: Watcher['events'] = [];
  const waiters = new Set<() => void>();
  const sub = rec.client.session(sessionId).subscribe({ after: 0 });
  const done = (async () => {
    for await (const event of sub) {
      events.push({ event, at: performance.now() });
      for (const wake of [...waiters]) wake();
    }
  })().catch(() => {});
  return {
    name,
    rec,
    events,
    next(predicate, { from = 0, timeoutMs = 15_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.slice(from).find((e) => predicate(e.event));
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${name}: no matching event within ${timeoutMs} ms; last ${JSON.stringify(events.at(-1)?.event)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      sub.close();
      await rec.client.close();
      await done;
    },
  };
}

/** Creates a session through `baseUrl`; resolves with its id. */
export async function newSession(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  if (res.status !== 201) throw new Error(`create session answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { session: { id: string } }).session.id;
}

/** The session's whole log, read from `nodeUrl` by long-poll pages (not through the balancer). */
export async function serverLog(nodeUrl: string, sessionId: string): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  let after = 0;
  for (;;) {
    const res = await fetch(`${nodeUrl}/v1/sessions/${sessionId}/poll?after=${after}&wait=0`);
    if (res.status !== 200) throw new Error(`poll answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { events: SessionEvent[]; next: number; reset?: unknown };
    if (body.reset) throw new Error(`server log reset: ${JSON.stringify(body.reset)}`);
    if (body.events.length === 0) return events;
    events.push(...body.events);
    after = body.next;
  }
}

/** How a recording differs from the server's log: events lost, duplicated, out of order, or invented. */
export function compareWithLog(recorded: readonly SubscriptionEvent[], log: readonly SessionEvent[]) {
  const seqs = recorded.filter((e) => e.type !== 'session.reset').map((e) => (e as SessionEvent).seq);
  const seen = new Set<number>();
  let duplicated = 0;
  let outOfOrder = 0;
  for (const [i, seq] of seqs.entries()) {
    if (seen.has(seq)) duplicated++;
    seen.add(seq);
    if (i > 0 && seq !== seqs[i - 1]! + 1) outOfOrder++;
  }
  const bySeq = new Map(log.map((e) => [e.seq, e]));
  const lost = log.filter((e) => !seen.has(e.seq)).length;
  const differing = recorded.filter((e) => e.type !== 'session.reset' && JSON.stringify(bySeq.get((e as SessionEvent).seq)) !== JSON.stringify(e)).length;
  const resets = recorded.length - seqs.length;
  return { lost, duplicated, outOfOrder, differing, resets };
}

/** Terminal events per turn id in a recording. */
export function terminalsByTurn(recorded: readonly SubscriptionEvent[]): Map<string, SessionEvent[]> {
  const out = new Map<string, SessionEvent[]>();
  for (const e of recorded) {
    if (!TERMINALS.has(e.type)) continue;
    const ev = e as SessionEvent;
    out.set(ev.turnId!, [...(out.get(ev.turnId!) ?? []), ev]);
  }
  return out;
}

/** Median of numbers. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
