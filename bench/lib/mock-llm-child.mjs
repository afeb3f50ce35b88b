// The project's mock LLM (test/bridges/fixtures/mock-llm.ts) in a process of its own, so that
// the bench's own work (clients, proxies) never delays the model stream an upstream agent
// server reads: Codex ends a turn whose model stream stays silent past its idle timeout.
// Reports `{ url }` over IPC; `{cmd:'requests'}` answers how many model calls it served;
// closes on `{cmd:'close'}` or when the parent goes away.
import { fileURLToPath } from 'node:url';
import { forkChild } from './common.mjs';

/** Starts the mock in a child process; resolves with `{ url, pid, child, close }`. */
export function startMockLlmChild() {
  return forkChild(fileURLToPath(import.meta.url), ['--child'], { what: 'mock LLM child' });
}

if (process.argv[2] === '--child') {
  // A .ts fixture: needs a Node that strips types (22.18+, 24), like the bench itself.
  const { startMockLlm } = await import('../../test/bridges/fixtures/mock-llm.ts');
  const llm = await startMockLlm();
  process.send({ url: llm.url });
  process.on('message', async (m) => {
    if (m?.cmd === 'close') {
      await llm.close();
      process.exit(0);
    } else if (m?.cmd === 'requests') {
      process.send({ reply: 'requests', value: llm.requests() });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
