import { createClient } from '../index.js';
import type { SessionEvent, SubscriptionEvent, TerminalEvent } from '../index.js';
import { isTerminal } from '../protocol.js';
import { createServer } from '../server.js';
// Straight from its module, not the `testing` entry: the CLI must not pull in msw (a devDependency).
import { createFaultProxy } from '../testing/fault-proxy.js';
import type { DemoCommandOptions } from './args.js';
import { GREETING, countTo, demoScriptAgent } from './demo-agent.js';
import { EXIT } from './exit-codes.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Where the transcript goes. @default process.stdout.write */
  write?: ((text: string) => void) | undefined;
  /** The watchdog: the demo fails if it has not finished by then. @default 30_000 */
  timeoutMs?: number | undefined;
  /** Pause before each delta of the demo agent. @default 40 */
  agentDelayMs?: number | undefined;
}

type Client = ReturnType<typeof createClient>;
type Session = Awaited<ReturnType<Client['createSession']>>;
type Turn = Awaited<ReturnType<Session['prompt']>>;

const STEPS = 5;
const COUNT = 30;
const CUT_AFTER = 5;
/** Bound on each teardown call, so a misbehaving close cannot hold the demo past its watchdog. */
const CLOSE_BOUND_MS = 5_000;

/** A check that did not hold; ends the demo with a failure. */
class DemoFailure extends Error {
  override readonly name = 'DemoFailure';
}

/**
 * Writes the transcript. A streamed reply is written inline; a line printed in
 * the middle of one (a state change) breaks it, and the reply resumes under
 * its prefix.
 */
class Transcript {
  #midLine = false;
  #stream: string | undefined;
  #resume = false;
  #sealed = false;
  constructor(readonly write: (text: string) => void) {}
  /** Writes `text` as the last line; anything after it (a step still unwinding after a failure) is dropped. */
  final(text: string): void {
    this.line('');
    this.line(text);
    this.#sealed = true;
  }
  /** Starts a streamed line, e.g. `  agent ‹ `. */
  startStream(prefix: string): void {
    this.line();
    this.#stream = prefix;
    this.#emit(prefix);
  }
  /** Part of the streamed line (a delta). */
  inline(text: string): void {
    if (this.#resume && this.#stream !== undefined) this.#emit(`${this.#stream}…`);
    this.#resume = false;
    this.#emit(text);
  }
  /** Ends the streamed line. */
  endStream(): void {
    this.#stream = undefined;
    this.#resume = false;
    if (this.#midLine) this.#emit('\n');
  }
  /** A whole line, starting on a fresh one (with no text: just end the current line, if any). */
  line(text?: string): void {
    if (text === undefined) {
      if (this.#midLine) this.#emit('\n');
      return;
    }
    if (this.#midLine) {
      this.#emit('\n');
      if (this.#stream !== undefined) this.#resume = true;
    }
    this.#emit(`${text}\n`);
  }
  #emit(text: string): void {
    if (text === '' || this.#sealed) return;
    this.write(text);
    this.#midLine = !text.endsWith('\n');
  }
  ok(text: string): void {
    this.line(`  ✓ ${text}`);
  }
  check(condition: unknown, ok: string, failure: string): asserts condition {
    if (!condition) throw new DemoFailure(failure);
    this.ok(ok);
  }
}

/**
 * Runs the demo: an embedded reference server behind a fault-injecting proxy,
 * two clients, five steps, each checking what it shows.
 *
 * @returns `true` when every step behaved.
 * @example
 * const ok = await runDemo({ write: (text) => process.stdout.write(text) });
 */
export async function runDemo(options: DemoOptions = {}): Promise<boolean> {
  const out: Transcript = new Transcript(options.write ?? ((text) => void process.stdout.write(text)));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const startedAt = Date.now();
  const baselineSockets = countSockets();
  let current = 'starting';
  const cleanups: { name: string; run: () => Promise<unknown> }[] = [];

  let watchdog: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    watchdog = setTimeout(
      () => reject(new DemoFailure(`timed out after ${timeoutMs} ms (during: ${current})`)),
      timeoutMs,
    );
  });

  const body = async () => {
    out.line('agent-tether demo: a reference server, a fault-injecting proxy in front of it, and two clients.');
    const server = createServer({ agent: demoScriptAgent({ delayMs: options.agentDelayMs }) });
    cleanups.push({ name: 'server', run: () => server.close() });
    const { url: serverUrl } = await server.listen(0, '127.0.0.1');
    const proxy = await createFaultProxy({ target: serverUrl }).listen();
    cleanups.push({ name: 'proxy', run: () => proxy.close() });
    out.line(`server on ${serverUrl}; clients connect through the proxy on ${proxy.url}`);

    // Short, deterministic backoff so a cut heals in well under a second.
    const reconnect = { initialDelayMs: 50, maxDelayMs: 400, jitter: 'none' } as const;
    const alice = createClient({ baseUrl: proxy.url, clientId: 'alice', reconnect });
    cleanups.push({ name: 'alice', run: () => alice.close() });
    const bob = createClient({ baseUrl: proxy.url, clientId: 'bob', reconnect });
    cleanups.push({ name: 'bob', run: () => bob.close() });

    const errors: { client: string; error: unknown }[] = [];
    alice.on('error', (error) => errors.push({ client: 'alice', error }));
    bob.on('error', (error) => errors.push({ client: 'bob', error }));

    let showStates = false;
    alice.on('state', (state) => {
      if (!showStates) return;
      if (state.status === 'reconnecting') {
        out.line(`  … alice: reconnecting (attempt ${state.attempt}, next try over ${state.transport})`);
      } else if (state.status === 'open') {
        out.line(`  … alice: open over ${state.transport}`);
      } else {
        out.line(`  … alice: ${state.status}`);
      }
    });

    const session = await alice.createSession();
    out.line(`alice created session ${session.id}; she watches all of its events with session.subscribe().`);

    // Alice's subscription is the witness for "nothing lost": it must yield every
    // seq exactly once, in order, across the cut and the transport change (F8).
    const seen: SubscriptionEvent[] = [];
    const subscription = session.subscribe();
    const watching = (async () => {
      for await (const event of subscription) seen.push(event);
    })().catch((error: unknown) => {
      throw new DemoFailure(`alice's subscription failed: ${describe(error)}`);
    });
    watching.catch(() => {});

    // 1 ────────────────────────────────────────────────────────────────────
    current = 'step 1';
    header(out, 1, 'A streamed turn');
    {
      const turn = await session.prompt('Say hello');
      out.line('  alice › Say hello');
      const { text, deltas, end } = await stream(out, turn);
      out.check(
        end.type === 'turn.completed',
        'the turn ended with turn.completed',
        `expected turn.completed, got ${end.type}`,
      );
      out.check(
        deltas > 1 && text === outputOf(end) && text === GREETING,
        `it arrived in ${deltas} deltas, and the streamed text equals the server's turn.completed.output`,
        `streamed ${JSON.stringify(text)} in ${deltas} deltas, server output ${JSON.stringify(outputOf(end))}`,
      );
    }

    // 2 ────────────────────────────────────────────────────────────────────
    current = 'step 2';
    header(out, 2, "Bob cancels Alice's turn");
    // F1: a cancel by another client is a normal end for everyone, never an error.
    {
      const turn = await session.prompt('Write an endless essay');
      out.line('  alice › Write an endless essay');
      out.startStream('  agent ‹ ');
      const aliceEvents: SessionEvent[] = [];
      let printing = true;
      const threeDeltas = deferred<void>();
      let deltas = 0;
      const aliceDone = (async () => {
        for await (const event of turn) {
          aliceEvents.push(event);
          if (event.type === 'turn.delta') {
            if (printing) out.inline(event.text);
            if (++deltas === 3) threeDeltas.resolve();
          }
        }
      })();
      await Promise.race([
        threeDeltas.promise,
        aliceDone.then(() => {
          throw new DemoFailure("alice's turn ended before it streamed 3 deltas");
        }),
      ]);
      printing = false;
      out.inline(' …');
      out.endStream();

      const bobTurn = bob.session(session.id).turn(turn.id);
      const bobEvents: SessionEvent[] = [];
      const bobDone = (async () => {
        for await (const event of bobTurn) bobEvents.push(event);
      })();
      const reply = await bobTurn.cancel();
      out.line(`  bob   ✕ turn.cancel() → ${JSON.stringify(reply)}`);
      out.check(reply.cancelled === true, "bob's cancel was accepted", `bob's cancel answered ${JSON.stringify(reply)}`);

      const [aliceEnd, bobEnd] = await Promise.all([turn.result, bobTurn.result]);
      await Promise.all([aliceDone, bobDone]);
      for (const [who, end] of [['alice', aliceEnd], ['bob', bobEnd]] as const) {
        out.check(
          end.type === 'turn.canceled' && end.canceledBy === 'bob',
          `${who} saw turn.canceled (canceledBy: ${end.type === 'turn.canceled' ? end.canceledBy : '?'})`,
          `${who} saw ${JSON.stringify(end)}`,
        );
      }
      const terminals = (events: SessionEvent[]) => events.filter((e) => isTerminal(e)).length;
      out.check(
        terminals(aliceEvents) === 1 && terminals(bobEvents) === 1,
        'each of them saw exactly one terminal event',
        `terminal events seen: alice ${terminals(aliceEvents)}, bob ${terminals(bobEvents)}`,
      );
      const late = await turn.cancel();
      out.line(`  alice ✕ turn.cancel() afterwards → ${JSON.stringify(late)}`);
      out.check(
        late.cancelled === false && late.reason === 'already_finished',
        'a cancel that lost the race is an answer, not an error',
        `a late cancel answered ${JSON.stringify(late)}`,
      );
      out.check(
        errors.length === 0,
        'neither client saw an error',
        `errors: ${errors.map((e) => `${e.client}: ${describe(e.error)}`).join('; ')}`,
      );
    }

    // 3 ────────────────────────────────────────────────────────────────────
    current = 'step 3';
    header(out, 3, 'The connection is cut mid-turn');
    // F2 + F8: the turn runs on while the client is cut off; it resumes from its cursor.
    {
      const turn = await session.prompt(`Count to ${COUNT}`);
      out.line(`  alice › Count to ${COUNT}`);
      out.startStream('  agent ‹ ');
      showStates = true;
      let leftOpen = false;
      const offState = alice.on('state', (state) => {
        if (state.status !== 'open') leftOpen = true;
      });
      let text = '';
      let deltas = 0;
      for await (const event of turn) {
        if (event.type !== 'turn.delta') continue;
        text += event.text;
        out.inline(event.text);
        if (++deltas === CUT_AFTER) {
          proxy.reset();
          out.line(`  ✂ proxy: every connection reset after ${CUT_AFTER} of ${COUNT} numbers`);
        }
      }
      out.endStream();
      const end = await turn.result;
      showStates = false;
      offState();
      out.check(
        leftOpen,
        'the client noticed the cut and reconnected',
        'the client never left the open state: the cut did not happen',
      );
      out.check(
        end.type === 'turn.completed',
        'the turn still completed (a cut connection does not end a turn)',
        `expected turn.completed, got ${JSON.stringify(end)}`,
      );
      out.check(
        text === outputOf(end) && text === countTo(COUNT),
        `nothing lost, nothing repeated: the ${COUNT} numbers streamed equal turn.completed.output`,
        `streamed ${JSON.stringify(text)}, server output ${JSON.stringify(outputOf(end))}`,
      );
    }

    // 4 ────────────────────────────────────────────────────────────────────
    current = 'step 4';
    header(out, 4, 'WebSocket is blocked: the session continues over SSE');
    // F8: the ladder moves down when WebSocket never opens.
    {
      out.line(`  alice is connected over ${alice.state.status === 'open' ? alice.state.transport : alice.state.status}`);
      showStates = true;
      proxy.refuseWebSocket(true);
      proxy.reset();
      out.line('  ✂ proxy: WebSocket upgrades refused, every connection reset');
      const withoutWebSocket = (s: Client['state']) => s.status === 'open' && s.transport !== 'websocket';
      await until(alice, withoutWebSocket, 10_000, 'alice to reopen without WebSocket');
      showStates = false;
      const turn = await session.prompt('Say hello again');
      out.line(`  alice › Say hello again   (same session, ${session.id.slice(0, 8)}…)`);
      const { text, end } = await stream(out, turn);
      const transport = alice.state.status === 'open' ? alice.state.transport : alice.state.status;
      out.check(transport === 'sse', 'client.state.transport is "sse"', `client.state is ${JSON.stringify(alice.state)}`);
      out.check(
        end.type === 'turn.completed' && text === outputOf(end) && turn.sessionId === session.id,
        'the same session streamed a whole turn over SSE',
        `got ${JSON.stringify(end)} after streaming ${JSON.stringify(text)}`,
      );
    }

    // 5 ────────────────────────────────────────────────────────────────────
    current = 'step 5';
    header(out, 5, 'A clean close');
    // F7: close() settles everything and leaves nothing open.
    {
      const snapshot = await session.snapshot();
      const lastSeq = snapshot.session.seq;
      await untilTrue(() => seqOf(seen.at(-1)) >= lastSeq, 5_000, "alice's subscription to catch up");
      const seqs = seen.map(seqOf);
      out.check(
        seqs.length === lastSeq && seqs.every((seq, i) => seq === i + 1),
        `alice's subscription saw every event exactly once, in order: seq 1…${lastSeq}, across the cut and the switch to SSE`,
        `subscription seqs ${JSON.stringify(seqs)} (server is at ${lastSeq}); types: ${seen.map((e) => e.type).join(',')}`,
      );
      subscription.close();
      await watching;
      await Promise.all([alice.close(), bob.close()]);
      out.check(
        alice.state.status === 'closed' && bob.state.status === 'closed',
        'both clients closed (client.state.status is "closed")',
        `client states after close: alice ${alice.state.status}, bob ${bob.state.status}`,
      );
      await server.close();
      await proxy.close();
      cleanups.length = 0;
      out.ok('server and proxy closed');
      const leftover = await untilTrue(() => countSockets() <= baselineSockets, 2_000, '').then(
        () => 0,
        () => countSockets() - baselineSockets,
      );
      out.check(leftover === 0, 'no sockets left open', `${leftover} socket(s) still open after every close`);
    }
  };

  let failure: unknown;
  const running = body();
  // After a timeout the body may still fail while it unwinds; that is already reported.
  running.catch(() => {});
  try {
    await Promise.race([running, timedOut]);
  } catch (error) {
    failure = error;
  } finally {
    clearTimeout(watchdog);
  }
  // Tear down whatever a failed step left running, each bounded.
  for (const { name, run } of cleanups.reverse()) {
    const ok = await bounded(run(), CLOSE_BOUND_MS).catch(() => false);
    if (!ok) out.line(`  (closing ${name} did not finish cleanly)`);
  }
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  if (failure === undefined) {
    out.final(`Demo complete: all ${STEPS} steps behaved (${seconds} s).`);
    return true;
  }
  out.final(`Demo FAILED in ${current}: ${describe(failure)}`);
  return false;
}

/**
 * `agent-tether demo`: runs {@link runDemo} and exits with 0 only when every
 * step behaved.
 */
export async function runDemoCommand(options: DemoCommandOptions): Promise<number> {
  const ok = await runDemo({ timeoutMs: options.timeoutMs });
  // Everything was closed, so the process should now exit on its own. If a
  // handle survived, that is a leak (F7): say so and fail rather than hang.
  setTimeout(() => {
    if (ok) {
      const left = process.getActiveResourcesInfo().filter((name) => name !== 'Timeout');
      const what = left.join(', ') || 'timers';
      process.stderr.write(`agent-tether demo: the process did not exit after every close; still open: ${what}\n`);
    }
    process.exit(EXIT.failure);
  }, ok ? 2_000 : 500).unref();
  return ok ? EXIT.ok : EXIT.failure;
}

function header(out: Transcript, n: number, title: string): void {
  out.line('');
  out.line(`[${n}/${STEPS}] ${title}`);
}

/** Iterates a turn, printing its deltas as they arrive. */
async function stream(out: Transcript, turn: Turn): Promise<{ text: string; deltas: number; end: TerminalEvent }> {
  out.startStream('  agent ‹ ');
  let text = '';
  let deltas = 0;
  for await (const event of turn) {
    if (event.type !== 'turn.delta') continue;
    text += event.text;
    deltas++;
    out.inline(event.text);
  }
  out.endStream();
  return { text, deltas, end: await turn.result };
}

/** A reset (history lost) has no seq: it counts as a gap. */
function seqOf(event: SubscriptionEvent | undefined): number {
  return event !== undefined && 'seq' in event ? event.seq : -1;
}

function outputOf(end: TerminalEvent): string | undefined {
  return end.type === 'turn.completed' ? end.output : undefined;
}


/** Resolves once `client.state` satisfies `predicate`. */
function until(
  client: Client,
  predicate: (state: Client['state']) => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  if (predicate(client.state)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new DemoFailure(`timed out waiting for ${what}; state is ${JSON.stringify(client.state)}`));
    }, timeoutMs);
    const off = client.on('state', (state) => {
      if (!predicate(state)) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** Polls `predicate` every 10 ms until it holds. */
async function untilTrue(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new DemoFailure(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves `true` when `promise` settles within `ms`, `false` otherwise. */
async function bounded(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function countSockets(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap' || name === 'TCPServerWrap').length;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
