// Not part of the table: a diagnostic for a defect the benchmarks ran into.
// An agent that produces faster than the client reads makes the client's
// connection fall behind the server's log; once it is more than
// `maxEventsPerSession` (default 10 000) events behind, the server answers
// with a history_gone reset. Does a `Turn` iterated by a prompt reader still
// deliver its exact text (concatenated deltas === turn.completed.output)?
//
//   node bench/lag-check.mjs [runs=5] [count=200000] [size=5] [maxEventsPerSession=10000]
import { createClient } from '../dist/index.js';
import { startServerChild, benchPrompt, withTimeout } from './lib/common.mjs';

const [runs, count, size, retention] = [5, 200_000, 5, 10_000].map((d, i) => Number(process.argv[2 + i] ?? d));
let bad = 0;
for (let r = 0; r < runs; r++) {
  const server = await startServerChild({ serverOptions: { maxEventsPerSession: retention } });
  const client = createClient({ baseUrl: server.url });
  const errors = [];
  client.on('error', (e) => errors.push(e.code));
  try {
    const session = await client.createSession();
    const turn = await session.prompt(benchPrompt(count, { size }));
    let text = '';
    await withTimeout((async () => { for await (const ev of turn) if (ev.type === 'turn.delta') text += ev.text; })(), 120_000, 'turn');
    const result = await turn.result;
    const exact = result.type === 'turn.completed' && result.output === text;
    if (!exact) bad++;
    console.log(`run ${r + 1}/${runs}: ${result.type}, text ${text.length} of ${count * size} bytes, ${exact ? 'exact' : 'NOT EXACT (deltas silently missing)'}${errors.length ? `, client errors: ${errors.join(',')}` : ''}`);
  } finally {
    await client.close();
    await server.close();
  }
}
console.log(`${bad} of ${runs} runs lost text without any error or event saying so`);
