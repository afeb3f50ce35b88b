/** The world the demo's steps share: server, proxy, two clients, one session, and the helpers that watch it. */
import { createClient } from '../index.js';
import type { SubscriptionEvent, TerminalEvent } from '../index.js';
import { systemClock, waitAtMost } from '../internal/clock.js';
import { describeValue } from '../internal/describe-value.js';
import { randomId } from '../internal/random-id.js';
import { createServer, demoAgent, tokenAuthenticator, type TetherServer } from '../server.js';
// Straight from its module, not the `testing` entry: the CLI must not pull in msw (a devDependency).
import { createFaultProxy, type FaultProxy } from '../testing/fault-proxy.js';
import { DemoFailure, type Transcript } from './demo-transcript.js';

export type Client = ReturnType<typeof createClient>;
export type Session = Awaited<ReturnType<Client['createSession']>>;
export type Turn = Awaited<ReturnType<Session['prompt']>>;

/** Everything a step may use or change. */
export interface DemoContext {
  out: Transcript;
  server: TetherServer;
  proxy: FaultProxy;
  alice: Client;
  bob: Client;
  /** Alice's session; every step prompts in it. */
  session: Session;
  /** Everything either client reported on `client.on('error')`. */
  errors: { client: string; error: unknown }[];
  /** What alice's subscription yielded: the witness for "nothing lost" (F8). */
  seen: SubscriptionEvent[];
  subscription: { close(): void };
  /** Settles when the subscription ends; rejects with a {@link DemoFailure} if it failed. */
  watching: Promise<void>;
  /** While true, alice's state changes are written to the transcript. */
  showStates: boolean;
  /** Sockets open before the demo started, so the last step can tell what it leaked. */
  baselineSockets: number;
  /** What the demo closes at its end; the last step closes everything itself and empties it. */
  cleanups: Cleanup[];
}

/** Something to close when the demo ends, whichever way it ends. */
export interface Cleanup {
  name: string;
  run: () => Promise<unknown>;
}

/**
 * Starts the server (with the demo agent pausing `agentDelayMs` between deltas),
 * the proxy in front of it and both clients, and opens alice's session and
 * subscription. Each thing started is pushed to `cleanups` at once, so a
 * failure half-way still closes what exists.
 */
export async function setUpDemo(out: Transcript, agentDelayMs: number, cleanups: Cleanup[]): Promise<DemoContext> {
  const baselineSockets = countSockets();
  out.line('agent-tether demo: a reference server, a fault-injecting proxy in front of it, and two clients.');
  // Authentication on, as a real deployment runs: each client holds its own bearer token.
  const tokens = { alice: randomId(), bob: randomId() };
  const server = createServer({
    agent: demoAgent({ delayMs: agentDelayMs }),
    authenticate: tokenAuthenticator({ [tokens.alice]: 'alice', [tokens.bob]: 'bob' }),
  });
  cleanups.push({ name: 'server', run: () => server.close() });
  const { url: serverUrl } = await server.listen(0, '127.0.0.1');
  const proxy = await createFaultProxy({ target: serverUrl }).listen();
  cleanups.push({ name: 'proxy', run: () => proxy.close() });
  out.line(`server on ${serverUrl}; clients connect through the proxy on ${proxy.url}`);

  // Short, deterministic backoff so a cut heals in well under a second.
  const reconnect = { initialDelayMs: 50, maxDelayMs: 400, jitter: 'none' } as const;
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const alice = createClient({ baseUrl: proxy.url, clientId: 'alice', reconnect, headers: bearer(tokens.alice) });
  cleanups.push({ name: 'alice', run: () => alice.close() });
  const bob = createClient({ baseUrl: proxy.url, clientId: 'bob', reconnect, headers: bearer(tokens.bob) });
  cleanups.push({ name: 'bob', run: () => bob.close() });

  const errors: DemoContext['errors'] = [];
  alice.on('error', (error) => errors.push({ client: 'alice', error }));
  bob.on('error', (error) => errors.push({ client: 'bob', error }));

  const session = await alice.createSession();
  // Sessions are their creator's; bob may use this one because it is shared with him.
  await server.shareSession(session.id, ['bob']);
  out.line(`alice created session ${session.id} and shared it with bob (each sends its own bearer token);`);
  out.line('she watches all of its events with session.subscribe().');

  // It must yield every seq exactly once, in order, across the cut and the transport change (F8).
  const seen: SubscriptionEvent[] = [];
  const subscription = session.subscribe();
  const watching = (async () => {
    for await (const event of subscription) seen.push(event);
  })().catch((error: unknown) => {
    throw new DemoFailure(`alice's subscription failed: ${describeValue(error)}`);
  });
  watching.catch(() => {});

  const context: DemoContext = {
    out, server, proxy, alice, bob, session, errors, seen, subscription, watching,
    showStates: false,
    baselineSockets,
    cleanups,
  };
  alice.on('state', (state) => {
    if (!context.showStates) return;
    if (state.status === 'reconnecting') {
      out.line(`  … alice: reconnecting (attempt ${state.attempt}, next try over ${state.transport})`);
    } else if (state.status === 'open') {
      out.line(`  … alice: open over ${state.transport}`);
    } else {
      out.line(`  … alice: ${state.status}`);
    }
  });
  return context;
}

/** Iterates a turn, printing its deltas as they arrive. */
export async function stream(out: Transcript, turn: Turn): Promise<{ text: string; deltas: number; end: TerminalEvent }> {
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
export function seqOf(event: SubscriptionEvent | undefined): number {
  return event !== undefined && 'seq' in event ? event.seq : -1;
}

export function outputOf(end: TerminalEvent): string | undefined {
  return end.type === 'turn.completed' ? end.output : undefined;
}

/** Resolves once `client.state` satisfies `predicate`; a {@link DemoFailure} after `timeoutMs`. */
export async function until(
  client: Client,
  predicate: (state: Client['state']) => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  let off = (): void => {};
  const reached = new Promise<void>((resolve) => {
    if (predicate(client.state)) return resolve();
    off = client.on('state', (state) => {
      if (predicate(state)) resolve();
    });
  });
  const inTime = await waitAtMost(systemClock, reached, timeoutMs);
  off();
  if (!inTime) throw new DemoFailure(`timed out waiting for ${what}; state is ${JSON.stringify(client.state)}`);
}

/** Polls `predicate` every 10 ms until it holds; a {@link DemoFailure} after `timeoutMs`. */
export async function untilTrue(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new DemoFailure(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Open TCP sockets and servers of this process. */
export function countSockets(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap' || name === 'TCPServerWrap').length;
}
