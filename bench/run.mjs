// Runs the benchmarks of issue 5, prints the table and writes it into
// docs/benchmarks.md (between the bench:table markers). Each figure runs in
// its own process (bench/figures/<name>.mjs) so that one figure's heap, JIT
// state and sockets cannot touch another's.
//
//   npm run bench                     # build, then every figure (~4-5 min)
//   node bench/run.mjs --quick        # smaller counts, fewer rounds
//   node bench/run.mjs --only throughput,bundle
//
// Exits 0 when every figure ran, even if a target was missed (the table says
// so); exits 1 only when a figure crashed.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_DIR, ROOT, parseArgs } from './lib/common.mjs';
import { TABLE_HEADER, fmtRatio, handRows, markdownBlock, mergeResults, tableRows } from './lib/table.mjs';

const FIGURES = [
  { name: 'bundle', execArgv: [], timeoutMs: 60_000 },
  { name: 'throughput', execArgv: [], timeoutMs: 240_000 },
  { name: 'reconnect', execArgv: [], timeoutMs: 180_000 },
  { name: 'first-delta', execArgv: [], timeoutMs: 120_000 },
  { name: 'memory', execArgv: ['--expose-gc'], timeoutMs: 240_000 },
  { name: 'slow-consumer', execArgv: ['--expose-gc'], timeoutMs: 180_000 },
  { name: 'fanout', execArgv: [], timeoutMs: 240_000 },
  { name: 'live-streaming', execArgv: [], timeoutMs: 240_000 },
  { name: 'storage-retention', execArgv: ['--expose-gc', '--max-old-space-size=2048'], timeoutMs: 240_000 },
  { name: 'storage-turn-cost', execArgv: [], timeoutMs: 240_000 },
  { name: 'storage-restart', execArgv: [], timeoutMs: 300_000 },
  { name: 'storage-big-history', execArgv: [], timeoutMs: 600_000 },
];

const args = parseArgs();
const selected = args.only ? FIGURES.filter((f) => args.only.includes(f.name)) : FIGURES;
if (args.only && selected.length !== args.only.length) {
  console.error(`unknown figure in --only; known: ${FIGURES.map((f) => f.name).join(', ')}`);
  process.exit(2);
}

function runFigure(fig) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [...fig.execArgv, path.join(BENCH_DIR, 'figures', `${fig.name}.mjs`), ...(args.quick ? ['--quick'] : [])], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n[killed after ${fig.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, fig.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('@@BENCH '));
      const seconds = (Date.now() - t0) / 1000;
      if (code === 0 && line) resolve({ ok: true, seconds, ...JSON.parse(line.slice(8)) });
      else {
        const tail = out.replace(/\n@@BENCH .*/g, '').trim().split('\n').slice(-5).join(' | ');
        resolve({ ok: false, seconds, error: `exit ${code ?? signal}${tail ? `: ${tail}` : ''}` });
      }
    });
  });
}

const results = {};
console.error(`agent-tether benchmarks${args.quick ? ' (--quick)' : ''}: ${selected.map((f) => f.name).join(', ')}`);
for (const fig of selected) {
  console.error(`\n▶ ${fig.name}`);
  const r = await runFigure(fig);
  // The machine is shared: the load while the figure ran is part of its result.
  r.env = { node: process.version, cpus: `${os.cpus().length} × ${os.cpus()[0]?.model?.trim() ?? 'cpu'}`, loadavg: os.loadavg() };
  results[fig.name] = r;
  if (!r.ok) console.error(`  ✗ ${fig.name} crashed: ${r.error}`);
  else for (const row of r.rows) console.error(`  ${row.pass ? '✓' : '✗'} ${row.figure}: ${row.sdk} (${fmtRatio(row.ratio)}, target ${row.target})`);
}

// Merge with earlier results so that `--only x` refreshes x's rows and keeps the rest:
// every row of the docs table comes from results.json (bench/lib/table.mjs).
const store = path.join(BENCH_DIR, 'results.json');
const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const previous = mergeResults(existsSync(store) ? JSON.parse(readFileSync(store, 'utf8')) : {}, results, { stamp, quick: args.quick });
writeFileSync(store, JSON.stringify(previous, null, 2) + '\n');

const order = FIGURES.map((f) => f.name);
const header = TABLE_HEADER;
const rows = tableRows(previous, order);

// stdout: a plain table.
const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => String(r[i]).length))));
const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
console.log('\n' + line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));

// docs/benchmarks.md: the table, the notes and commands, between markers.
const md = markdownBlock(previous, order);
md.push('', `The machine is shared with other jobs; ratios are same-run, absolute figures move with the load (${os.platform()} ${os.release()}).`);
const doc = path.join(ROOT, 'docs', 'benchmarks.md');
const START = '<!-- bench:table:start (generated by bench/run.mjs) -->';
const END = '<!-- bench:table:end -->';
let text = existsSync(doc) ? readFileSync(doc, 'utf8') : `# Benchmarks\n\n${START}\n${END}\n`;
if (!text.includes(START)) text += `\n${START}\n${END}\n`;
// Rows someone added to the table by hand are kept, never deleted by a run; say which, so they become figures.
const kept = handRows(text.slice(text.indexOf(START), text.indexOf(END)), md);
if (kept.length > 0) {
  md.splice(md.indexOf('') , 0, ...kept);
  console.error(`kept ${kept.length} row(s) of docs/benchmarks.md that no figure produces (add them to bench/figures/): ${kept.map((l) => l.slice(2).split(' | ')[0]).join('; ')}`);
}
text = text.slice(0, text.indexOf(START) + START.length) + '\n' + md.join('\n') + '\n' + text.slice(text.indexOf(END));
writeFileSync(doc, text);
console.error(`\nwrote ${path.relative(ROOT, doc)} and ${path.relative(ROOT, store)}`);

process.exit(Object.values(results).some((r) => !r.ok) ? 1 : 0);
