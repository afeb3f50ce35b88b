// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time by function
// and by file, top N. Used to find where the SDK's per-event time goes:
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/figures/throughput.mjs --runner sdk-ws --rounds 5
//   node bench/profile-summary.mjs /tmp/prof/*.cpuprofile [--top 30]
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const top = argv.includes('--top') ? Number(argv[argv.indexOf('--top') + 1]) : 30;
const files = argv.filter((a, i) => a.endsWith('.cpuprofile') && argv[i - 1] !== '--top');
for (const file of files) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = prof.timeDeltas;
  for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map();
  const byFile = new Map();
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const url = (cf.url || '').replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'node_modules/').replace(/.*\/(dist|src|bench)\//, '$1/');
    const key = `${cf.functionName || '(anonymous)'} ${url}:${cf.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const f = url || `(${cf.functionName})`;
    byFile.set(f, (byFile.get(f) ?? 0) + us);
  }
  const show = (title, m) => {
    console.log(`\n${title}`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
    }
  };
  console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
  show('self time by file', byFile);
  show('self time by function', fn);
}
