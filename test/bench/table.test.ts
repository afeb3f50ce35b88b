/** bench/run.mjs's table: every docs row comes from results.json, and running some figures keeps every other figure's rows. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error — a plain .mjs bench helper, no types
import { handRows, markdownBlock, mergeResults, tableRows } from '../../bench/lib/table.mjs';

const row = (figure: string, extra: Record<string, unknown> = {}) => ({ figure, sdk: '1', baseline: '1', ratio: 1, target: '≤ 2×', pass: true, command: 'c', note: 'n', ...extra });

describe('bench table', () => {
  it('`--only x` refreshes x and keeps every other figure, hand-kept cells included', () => {
    const previous = {
      a: { ok: true, at: 'T0', quick: false, rows: [row('a1')] },
      b: { ok: true, at: 'T0', quick: false, rows: [row('b1', { ratioText: '0.9× (0.8–1.1×)', result: 'pass (T0; 3 runs)' })] },
    };
    const merged = mergeResults(previous, { a: { ok: true, rows: [row('a1', { ratio: 2, pass: false })] } }, { stamp: 'T1', quick: true });
    expect(tableRows(merged, ['a', 'b'])).toEqual([
      ['a1', '1', '1', '2.00×', '≤ 2×', 'MISS (T1, --quick)'],
      ['b1', '1', '1', '0.9× (0.8–1.1×)', '≤ 2×', 'pass (T0; 3 runs)'],
    ]);
  });

  it('a figure missing from the order list still shows', () => {
    expect(tableRows({ z: { ok: true, at: 'T', rows: [row('z1')] } }, ['a']).map((r: string[]) => r[0])).toEqual(['z1']);
  });

  it('rows added to the docs table by hand are found, to be kept', () => {
    const generated = markdownBlock({ a: { ok: true, at: 'T', rows: [row('a1')] } }, ['a']);
    const doc = ['| figure | sdk |', '|---|---|', '| a1 | old |', '| by hand | 3 |'].join('\n');
    expect(handRows(doc, generated)).toEqual(['| by hand | 3 |']);
  });

  it('the committed results.json renders the rows of docs/benchmarks.md (rows kept by hand aside)', () => {
    const results = JSON.parse(readFileSync('bench/results.json', 'utf8'));
    const doc = readFileSync('docs/benchmarks.md', 'utf8');
    const block = doc.slice(doc.indexOf('<!-- bench:table:start'), doc.indexOf('<!-- bench:table:end'));
    const docRows = block.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| figure '));
    const order = Object.keys(results);
    const rendered = (markdownBlock(results, order) as string[]).filter((l) => l.startsWith('| ') && !l.startsWith('| figure '));
    const kept = handRows(block, markdownBlock(results, order));
    expect(rendered).toEqual(docRows.filter((l) => !kept.includes(l)));
    expect(rendered.length).toBeGreaterThan(0);
  });
});
