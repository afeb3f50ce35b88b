/**
 * The real system the chaos model drives: a reference server with a file
 * store behind the fault proxy, and a few clients that each keep a session
 * subscription and turn handles, recording everything they are given. The
 * final `verify()` compares every recording with the server's own log.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionEvent, SubscriptionEvent, TransportName, Turn, TurnEvent } from '../../src/index.js';
import { fileStore } from '../../src/server.js';
import { createFaultProxy, type FaultProxy, type ScriptStep, type TestServer } from '../../src/testing.js';
// The server under test: one node, or a cluster with TETHER_CLUSTER=1 (test/support/suite-server.ts).
import { createTestServer } from '../support/suite-server.js';
import { recordingClient, serverErrors, type Recorded } from '../integration/helpers.js';

export const TERMINALS = new Set(['turn.completed', 'turn.canceled', 'turn.error']);

/** Every client's ladder is one of these (chosen per run). */
export const LADDERS: readonly (readonly TransportName[])[] = [
  ['websocket', 'sse', 'poll'],
  ['websocket'],
  ['sse'],
  ['poll'],
  ['sse', 'poll'],
];

export interface Counters {
  runs: number;
  faults: Record<string, number>;
  commands: Record<string, number>;
  turns: number;
  serverEvents: number;
  delivered: number;
  resets: number;
  lost: number;
  duplicated: number;
  doubleTerminated: number;
}

export function newCounters(): Counters {
  return {
    runs: 0,
    faults: { reset: 0, end: 0, stall: 0, blockWebSocket: 0, bufferSse: 0, sliceWrites: 0, restart: 0, closeClient: 0 },
    commands: {},
    turns: 0,
    serverEvents: 0,
    delivered: 0,
    resets: 0,
    lost: 0,
    duplicated: 0,
    doubleTerminated: 0,
  };
}

interface TurnRecord {
  turn: Turn;
  events: TurnEvent[];
  done: Promise<void>;
  settled: boolean;
}

export interface Slot {
  index: number;
  clientId: string;
  rec: Recorded;
  ladder: readonly TransportName[];
  subEvents: SubscriptionEvent[];
  subDone: Promise<void>;
  subError: unknown;
  turns: Map<string, TurnRecord>;
  closed: boolean;
}

/** The turn script: `short <n> <uid>` streams n words; `hang <uid>` runs until canceled. */
export function chaosScript({ prompt }: { prompt: string }): ScriptStep[] {
  const [kind, n] = prompt.split(' ');
  if (kind === 'hang') return [{ delta: 'h ' }, { hang: true }];
  const steps: ScriptStep[] = [];
  for (let i = 0; i < Number(n); i++) steps.push({ delta: `w${i} ` }, { delayMs: 2 });
  return steps;
}

/** Client knobs not public yet: a short heartbeat deadline and open timeout keep stalls and blocks to ~1 s. */
const HOOKS = { heartbeatTimeoutMs: 600, openTimeoutMs: 800, terminalGraceMs: 200 };

export class World {
  dir!: string;
  port!: number;
  server!: TestServer;
  proxy!: FaultProxy;
  sessionId!: string;
  slots: Slot[] = [];
  retired: Slot[] = [];
  /** Every turn id ever prompted, with its owner slot index and kind. */
  prompted: Array<{ id: string; owner: number; kind: 'short' | 'hang' }> = [];
  /** Every turn a cancel was ever sent for (stale cancels excluded): only these may end `turn.canceled`. */
  cancelTargets = new Set<string>();
  serverLogErrors: unknown[] = [];
  wsBlocked = false;
  sseBuffered = false;
  sliced = false;
  #uid = 0;
  #clientSerial = 0;

  constructor(
    readonly ladders: readonly (readonly TransportName[])[],
    readonly counters: Counters,
  ) {}

  async start(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'tether-chaos-'));
    this.server = await this.#startServer(0);
    this.port = this.server.port;
    this.proxy = await createFaultProxy({ target: { host: '127.0.0.1', port: this.port } }).listen();
    for (let i = 0; i < this.ladders.length; i++) this.slots.push(this.#newSlot(i));
    const session = await this.slots[0]!.rec.client.createSession();
    this.sessionId = session.id;
    for (const slot of this.slots) this.#subscribe(slot);
  }

  #startServer(port: number): Promise<TestServer> {
    return createTestServer({
      port,
      store: fileStore({ dir: this.dir }),
      script: chaosScript,
      heartbeatMs: 150,
      sseRetryMs: 20,
      shutdownTimeoutMs: 1000,
      logger: { error: ({ err: details }, message) => this.serverLogErrors.push({ message, details }) },
    });
  }

  #newSlot(index: number): Slot {
    const clientId = `c${index}-${this.#clientSerial++}`;
    const ladder = this.ladders[index]!;
    const rec = recordingClient({ baseUrl: this.proxy.url, clientId, transports: ladder, requestTimeoutMs: 8000 }, HOOKS);
    return { index, clientId, rec, ladder, subEvents: [], subDone: Promise.resolve(), subError: undefined, turns: new Map(), closed: false };
  }

  #subscribe(slot: Slot): void {
    const sub = slot.rec.client.session(this.sessionId).subscribe({ after: 0 });
    slot.subDone = (async () => {
      try {
        for await (const ev of sub) slot.subEvents.push(ev);
      } catch (error) {
        slot.subError = error;
      }
    })();
  }

  #track(slot: Slot, turn: Turn): TurnRecord {
    const existing = slot.turns.get(turn.id);
    if (existing) return existing;
    const record: TurnRecord = { turn, events: [], done: Promise.resolve(), settled: false };
    record.done = (async () => {
      for await (const ev of turn) record.events.push(ev);
    })();
    void turn.result.then(() => (record.settled = true));
    slot.turns.set(turn.id, record);
    return record;
  }

  /* Commands ------------------------------------------------------- */

  async prompt(slotIndex: number, kind: 'short' | 'hang', words: number): Promise<void> {
    const slot = this.slots[slotIndex]!;
    const text = kind === 'hang' ? `hang ${this.#uid++}` : `short ${words} ${this.#uid++}`;
    const turn = await slot.rec.client.session(this.sessionId).prompt(text);
    this.#track(slot, turn);
    this.prompted.push({ id: turn.id, owner: slotIndex, kind });
  }

  /** Attaches `slot` to a turn by id (`session.turn(id)`), as a client that did not prompt it; recorded like its own. */
  attach(slotIndex: number, turnId: string): TurnRecord {
    const slot = this.slots[slotIndex]!;
    return this.#track(slot, slot.rec.client.session(this.sessionId).turn(turnId));
  }

  /** Cancels one of `slot`'s own turns (preferably one still running): never rejects, never `not_found`. */
  async cancelOwn(slotIndex: number, pick: number): Promise<void> {
    const slot = this.slots[slotIndex]!;
    const own = [...slot.turns.values()];
    if (own.length === 0) return;
    const open = own.filter((t) => !t.settled);
    const target = (open.length > 0 ? open : own)[pick % (open.length > 0 ? open.length : own.length)]!;
    this.cancelTargets.add(target.turn.id);
    const result = await target.turn.cancel();
    expectCancelResult(result, ['true', 'already_finished']);
  }

  /** Cancels a turn another client prompted, through a handle attached by id (F1). */
  async cancelOther(slotIndex: number, pick: number): Promise<void> {
    const others = this.prompted.filter((p) => p.owner !== slotIndex);
    if (others.length === 0) return;
    const target = others[pick % others.length]!;
    this.cancelTargets.add(target.id);
    const record = this.attach(slotIndex, target.id);
    const result = await record.turn.cancel();
    expectCancelResult(result, ['true', 'already_finished']);
  }

  /** Cancels a turn the server reports finished: `already_finished`, and a hanging turn running meanwhile is untouched (F3). */
  async cancelStale(slotIndex: number, pick: number): Promise<void> {
    const snapshot = await this.snapshot();
    const finished = snapshot.turns.filter((t) => t.terminal);
    if (finished.length === 0) return;
    const stale = finished[pick % finished.length]!;
    // A hanging turn no cancel was ever sent for: only a cancel addressed to it (or a restart, which
    // ends it with turn.error) may end it. (The snapshot reflects the published log, so a turn canceled
    // a moment ago may still read `running`: hence "never targeted", not "running".)
    const runningHang = snapshot.turns.find(
      (t) => !t.terminal && !this.cancelTargets.has(t.id) && this.prompted.find((p) => p.id === t.id)?.kind === 'hang',
    );
    const record = this.attach(slotIndex, stale.id);
    const result = await record.turn.cancel();
    expectCancelResult(result, ['already_finished']);
    if (runningHang) {
      const after = await this.serverTurn(runningHang.id);
      if (after.terminal && after.terminal.type === 'turn.canceled') {
        throw new Error(`F3: canceling stale turn ${stale.id} (${JSON.stringify(stale.terminal)}) ended running turn ${runningHang.id}: ${JSON.stringify(after.terminal)}; cancel answered ${JSON.stringify(result)}`);
      }
    }
  }

  reset(): void {
    this.counters.faults.reset! += 1;
    this.proxy.reset();
  }

  end(): void {
    this.counters.faults.end! += 1;
    this.proxy.endAll();
  }

  /** Half-open for a while: until a client notices (heartbeat deadline) or 1.5 s. */
  async stall(): Promise<void> {
    this.counters.faults.stall! += 1;
    this.proxy.stall(true);
    const live = this.slots.filter((s) => s.rec.client.state.status === 'open');
    await new Promise<void>((resolve) => {
      const offs: Array<() => void> = [];
      const done = () => {
        clearTimeout(timer);
        for (const off of offs) off();
        resolve();
      };
      const timer = setTimeout(done, 1500);
      for (const slot of live) offs.push(slot.rec.client.on('state', (s) => void (s.status === 'reconnecting' && done())));
      if (live.length === 0) done();
    });
    this.proxy.stall(false);
  }

  /** Flips WebSocket blocking; established WebSockets are cut so the block takes effect. */
  blockWebSocket(): void {
    this.counters.faults.blockWebSocket! += 1;
    this.wsBlocked = !this.wsBlocked;
    this.proxy.refuseWebSocket(this.wsBlocked);
    if (this.wsBlocked) this.proxy.endAll((c) => c.kind === 'websocket');
  }

  /** Flips an SSE-buffering middlebox (heads pass, bodies are held): SSE clients must fall back or wait it out. */
  bufferSse(): void {
    this.counters.faults.bufferSse! += 1;
    this.sseBuffered = !this.sseBuffered;
    this.proxy.bufferSse(this.sseBuffered);
  }

  /** Flips forwarding in tiny slices (each its own TCP write): frames and events split everywhere. */
  sliceWrites(bytes: number): void {
    this.counters.faults.sliceWrites! += 1;
    this.sliced = !this.sliced;
    this.proxy.sliceWrites(this.sliced ? bytes : null);
  }

  /** Restarts the server process on the same port and directory (file store): a graceful close, then (after `downMs`) a fresh server. */
  async restart(options: { downMs?: number; whileDown?: () => void } = {}): Promise<void> {
    this.counters.faults.restart! += 1;
    await this.server.close();
    options.whileDown?.();
    // A slow restart (a loaded machine): the port refuses connections meanwhile.
    if (options.downMs) await new Promise((r) => setTimeout(r, options.downMs));
    this.server = await this.#startServer(this.port);
  }

  /** Closes a client (its unsettled turns end `client_closed`), and puts a fresh one in its place. */
  async closeClient(slotIndex: number): Promise<void> {
    this.counters.faults.closeClient! += 1;
    const slot = this.slots[slotIndex]!;
    await slot.rec.client.close();
    slot.closed = true;
    // After close every turn handle has settled (F7).
    for (const record of slot.turns.values()) {
      if (!record.settled) await Promise.race([record.turn.result, rejectAfter(100, `turn ${record.turn.id} unsettled after close()`)]);
    }
    this.retired.push(slot);
    const fresh = this.#newSlot(slotIndex);
    this.slots[slotIndex] = fresh;
    this.#subscribe(fresh);
  }

  /* Ground truth ----------------------------------------------------- */

  async snapshot(): Promise<{ turns: Array<{ id: string; status: string; terminal?: SessionEvent }> }> {
    const res = await fetch(`${this.server.url}/v1/sessions/${this.sessionId}`);
    if (res.status !== 200) throw new Error(`snapshot answered ${res.status}`);
    return (await res.json()) as never;
  }

  async serverTurn(turnId: string): Promise<{ status: string; terminal?: SessionEvent }> {
    const res = await fetch(`${this.server.url}/v1/sessions/${this.sessionId}/turns/${turnId}`);
    if (res.status !== 200) throw new Error(`GET turn answered ${res.status}`);
    return ((await res.json()) as { turn: never }).turn;
  }

  /** The server's whole event log for the session, read directly (not through the proxy). */
  async serverLog(): Promise<SessionEvent[]> {
    const events: SessionEvent[] = [];
    let after = 0;
    for (;;) {
      const res = await fetch(`${this.server.url}/v1/sessions/${this.sessionId}/poll?after=${after}&wait=0`);
      const body = (await res.json()) as { events: SessionEvent[]; next: number; reset?: unknown };
      if (body.reset) throw new Error(`server log reset: ${JSON.stringify(body.reset)}`);
      if (body.events.length === 0) return events;
      events.push(...body.events);
      after = body.next;
    }
  }

  /* End of a run ------------------------------------------------------ */

  /** Heal the network, end every turn still open at the server, wait for clients to catch up, then check everything. */
  async verify(): Promise<void> {
    this.proxy.heal();
    this.wsBlocked = this.sseBuffered = this.sliced = false;
    await this.#endOpenTurns();
    const log = await this.serverLog();
    // HTTP reads never run ahead of the published log (bug 3, fixed): once the snapshot shows every
    // turn ended, every terminal is already in the log.
    if (!allEnded(log, this.prompted.length)) {
      throw new Error(`server: the snapshot shows every turn ended, the log has ${log.filter((e) => TERMINALS.has(e.type)).length} of ${this.prompted.length} terminals`);
    }
    const lastSeq = log.at(-1)?.seq ?? 0;
    const bySeq = new Map(log.map((e) => [e.seq, e]));
    checkServerLog(log, this.prompted.length);
    this.counters.turns += this.prompted.length;
    this.counters.serverEvents += log.length;

    const deadline = Date.now() + 20_000;
    for (const slot of this.slots) {
      await waitFor(() => lastSubSeq(slot.subEvents) >= lastSeq, deadline, () => `client ${slot.clientId} (${slot.ladder}) subscription at ${lastSubSeq(slot.subEvents)} of ${lastSeq}, state ${JSON.stringify(slot.rec.client.state)}`);
      for (const record of slot.turns.values()) {
        await waitFor(() => record.settled, deadline, () => `client ${slot.clientId} turn ${record.turn.id} unsettled`);
        await record.done;
      }
    }
    for (const slot of [...this.slots, ...this.retired]) this.#checkSlot(slot, log, bySeq, lastSeq);
    if (this.serverLogErrors.length > 0) throw new Error(`server logged errors: ${JSON.stringify(this.serverLogErrors)}`);
  }

  async #endOpenTurns(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const open = (await this.snapshot()).turns.filter((t) => !t.terminal);
      if (open.length === 0) return;
      if (Date.now() > deadline) throw new Error(`turns never ended: ${JSON.stringify(open)}`);
      for (const t of open) {
        const res = await fetch(`${this.server.url}/v1/sessions/${this.sessionId}/turns/${t.id}/cancel`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ clientId: 'cleanup' }),
        });
        if (res.status !== 200) throw new Error(`cleanup cancel answered ${res.status}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  #checkSlot(slot: Slot, log: SessionEvent[], bySeq: Map<number, SessionEvent>, lastSeq: number): void {
    const who = `client ${slot.clientId} (${slot.ladder.join('>')})${slot.closed ? ' [closed]' : ''}`;
    // Subscription: contiguous seq from 1 (or after an explicit reset), each equal to the server's event.
    let cursor = 0;
    const terminalsPerTurn = new Map<string, number>();
    for (const ev of slot.subEvents) {
      if (ev.type === 'session.reset') {
        this.counters.resets += 1;
        cursor = ev.after;
        continue;
      }
      const e = ev as SessionEvent;
      if (e.seq <= cursor) {
        this.counters.duplicated += 1;
        throw new Error(`${who}: duplicate seq ${e.seq} after ${cursor}`);
      }
      if (e.seq !== cursor + 1) {
        this.counters.lost += e.seq - cursor - 1;
        throw new Error(`${who}: gap, seq ${e.seq} after ${cursor}`);
      }
      cursor = e.seq;
      expectSameEvent(e, bySeq.get(e.seq), who);
      if (TERMINALS.has(e.type)) terminalsPerTurn.set(e.turnId!, (terminalsPerTurn.get(e.turnId!) ?? 0) + 1);
      this.counters.delivered += 1;
    }
    for (const [turnId, n] of terminalsPerTurn) {
      if (n > 1) {
        this.counters.doubleTerminated += 1;
        throw new Error(`${who}: ${n} terminals for turn ${turnId} on its subscription`);
      }
    }
    if (!slot.closed) {
      if (cursor !== lastSeq) throw new Error(`${who}: subscription ended at ${cursor}, server at ${lastSeq}`);
      if (slot.subError !== undefined) throw new Error(`${who}: subscription failed: ${String(slot.subError)}`);
      for (const p of this.prompted) {
        if (terminalsPerTurn.get(p.id) !== 1) throw new Error(`${who}: turn ${p.id} has ${terminalsPerTurn.get(p.id) ?? 0} terminals on its subscription`);
      }
    }
    // Turn handles: exactly the server's events of that turn, in order, one terminal, last; `result` is it.
    for (const record of slot.turns.values()) {
      const id = record.turn.id;
      const truth = log.filter((e) => e.turnId === id);
      const got = record.events;
      const terminals = got.filter((e) => TERMINALS.has(e.type));
      if (terminals.length !== 1 || got.at(-1) !== terminals[0]) {
        this.counters.doubleTerminated += terminals.length > 1 ? 1 : 0;
        throw new Error(`${who}: turn ${id} yielded ${terminals.length} terminals: ${got.map(describeEvent).join(',')}`);
      }
      this.counters.delivered += got.length;
      const local = terminals[0]!.type === 'turn.error' && (terminals[0] as { error: { code: string } }).error.code === 'client_closed';
      if (local) {
        if (!slot.closed) throw new Error(`${who}: turn ${id} ended client_closed on a live client`);
        // A prefix of the server's events, then the local terminal.
        got.slice(0, -1).forEach((e, i) => expectSameEvent(e, truth[i], `${who} turn ${id}`));
        continue;
      }
      // Not a local end: exactly the server's events of the turn (also when its terminal came from the
      // HTTP fallback, F5: the iterator catches up first — bug 1, fixed), and the same text.
      if (got.length !== truth.length) {
        this.counters.lost += Math.max(0, truth.length - got.length);
        throw new Error(`${who}: turn ${id} yielded ${got.map(describeEvent)} but the server has ${truth.map(describeEvent)}`);
      }
      got.forEach((e, i) => expectSameEvent(e, truth[i], `${who} turn ${id}`));
      const text = got.filter((e) => e.type === 'turn.delta').map((e) => (e as { text: string }).text).join('');
      const serverText = truth.filter((e) => e.type === 'turn.delta').map((e) => (e as { text: string }).text).join('');
      if (text !== serverText) throw new Error(`${who}: turn ${id} text ${JSON.stringify(text)} != server ${JSON.stringify(serverText)}`);
    }
    const fivexx = serverErrors(slot.rec);
    if (fivexx.length > 0) throw new Error(`${who}: saw 5xx: ${fivexx.map(String).join(', ')}`);
  }

  /** Tears the run down; `step` names the part in progress (for a hang report). */
  step = '';
  async close(): Promise<void> {
    this.step = 'clients';
    await Promise.all(this.slots.map((s) => s.rec.client.close()));
    this.step = 'subscriptions';
    await Promise.all(this.slots.map((s) => s.subDone));
    this.step = 'proxy';
    await this.proxy?.close();
    this.step = 'server';
    await this.server?.close();
    this.step = 'dir';
    await rm(this.dir, { recursive: true, force: true });
    this.step = 'done';
  }
}

/** `seq:type`, and a `turn.error`'s code (which local or server failure ended the turn). */
function describeEvent(e: SessionEvent | TurnEvent): string {
  const code = e.type === 'turn.error' ? `(${(e as { error: { code: string } }).error.code})` : '';
  return `${e.seq}:${e.type}${code}`;
}

function allEnded(log: SessionEvent[], turns: number): boolean {
  return log.filter((e) => TERMINALS.has(e.type)).length >= turns;
}

function lastSubSeq(events: SubscriptionEvent[]): number {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.type === 'session.reset') return e.after;
    return (e as SessionEvent).seq;
  }
  return 0;
}

function expectCancelResult(result: unknown, allowed: Array<'true' | 'already_finished'>): void {
  const r = result as { cancelled: boolean; reason?: string };
  const key = r.cancelled ? 'true' : r.reason;
  if (!allowed.includes(key as never)) throw new Error(`cancel answered ${JSON.stringify(result)}, expected one of ${allowed}`);
}

/** The same server event: type, seq, turn, and the fields that carry content. */
function expectSameEvent(got: SessionEvent | TurnEvent, want: SessionEvent | undefined, who: string): void {
  const project = (e: Record<string, unknown> | undefined) =>
    e && JSON.stringify([e.type, e.seq, e.turnId, e.epoch, e.text, e.output, e.canceledBy, (e.error as { code?: string } | undefined)?.code]);
  const a = project(got as never);
  const b = project(want as never);
  if (a !== b) throw new Error(`${who}: event ${a} differs from the server's ${b}`);
}

/** The server's own invariants: seq 1..n, every prompted turn exactly one terminal, nothing after it. */
function checkServerLog(log: SessionEvent[], turns: number): void {
  log.forEach((e, i) => {
    if (e.seq !== i + 1) throw new Error(`server log: seq ${e.seq} at position ${i}`);
  });
  const ended = new Set<string>();
  for (const e of log) {
    if (!e.turnId) continue;
    if (ended.has(e.turnId)) throw new Error(`server log: ${e.type} after the terminal of ${e.turnId}`);
    if (TERMINALS.has(e.type)) ended.add(e.turnId);
  }
  const all = new Set(log.filter((e) => e.turnId).map((e) => e.turnId));
  if (all.size !== turns || ended.size !== turns) throw new Error(`server log: ${all.size} turns, ${ended.size} ended, ${turns} prompted`);
}

async function waitFor(predicate: () => boolean, deadline: number, what: () => string): Promise<void> {
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function rejectAfter(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}
