// The benchmark table: bench/results.json (every figure's rows, merged run by
// run) rendered as the plain table and the docs/benchmarks.md block. Every row
// of the docs table comes from results.json, so running some figures
// (`--only x`) refreshes theirs and keeps every other row.

export const fmtRatio = (r) => (r == null || !Number.isFinite(r) ? '—' : `${r.toFixed(2)}×`);

/** `previous` with the figures of `results` replaced (each stamped); nothing else is dropped. */
export function mergeResults(previous, results, { stamp, quick }) {
  const merged = { ...previous };
  for (const [name, r] of Object.entries(results)) merged[name] = { ...r, at: stamp, quick };
  return merged;
}

/**
 * Table rows in `order` (figure names), then any other figure of `results`.
 * A row may carry `ratioText` (a ratio with its spread) and `result` (the
 * result cell with its remarks); otherwise both are computed.
 */
export function tableRows(results, order) {
  const names = [...order, ...Object.keys(results).filter((n) => !order.includes(n))];
  const rows = [];
  for (const name of names) {
    const r = results[name];
    if (!r) continue;
    const when = `${r.at}${r.quick ? ', --quick' : ''}`;
    if (!r.ok) rows.push([name, 'crashed', '—', '—', '—', `ERROR (${when}): ${r.error}`]);
    else for (const row of r.rows) rows.push([row.figure, row.sdk, row.baseline, row.ratioText ?? fmtRatio(row.ratio), row.target, row.result ?? `${row.pass ? 'pass' : 'MISS'} (${when})`]);
  }
  return rows;
}

export const TABLE_HEADER = ['figure', 'sdk', 'baseline', 'ratio', 'target', 'result'];

/** The markdown table and the per-figure notes. */
export function markdownBlock(results, order) {
  const md = [`| ${TABLE_HEADER.join(' | ')} |`, `|${TABLE_HEADER.map(() => '---').join('|')}|`];
  for (const r of tableRows(results, order)) md.push(`| ${r.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`);
  md.push('', 'Per-figure detail (from the same runs):', '');
  const names = [...order, ...Object.keys(results).filter((n) => !order.includes(n))];
  for (const name of names) {
    const r = results[name];
    if (!r?.ok) continue;
    for (const row of r.rows) md.push(`- **${row.figure}** — \`${row.command}\`: ${row.note}`);
  }
  // Figures ran at different times, on a shared machine: each one's runtime and load.
  md.push('', 'When and where each figure last ran:', '');
  for (const name of names) {
    const r = results[name];
    if (r?.env) md.push(`- ${name}: ${r.at}${r.quick ? ' (--quick)' : ''}, ${envText(r.env)}`);
  }
  return md;
}

/** `{ node, cpus, loadavg, remark? }` as a sentence part. */
export function envText(env) {
  const load = typeof env.loadavg === 'string' ? env.loadavg : env.loadavg.map((x) => x.toFixed(2)).join(' ');
  return `Node ${env.node}, ${env.cpus}, load average ${load}${env.remark ? `; ${env.remark}` : ''}`;
}

/**
 * Rows of the docs table (`docBlock`: the text between the markers) whose
 * figure results.json does not produce: written by hand. They are kept (after
 * the generated rows) so no run ever deletes them; run.mjs names them so they
 * can become figures.
 */
export function handRows(docBlock, generatedMd) {
  const figureOf = (line) => line.slice(2).split(' | ')[0];
  const generated = new Set(generatedMd.filter(isRow).map(figureOf));
  return docBlock.split('\n').filter((l) => isRow(l) && !generated.has(figureOf(l)));
}

function isRow(line) {
  return line.startsWith('| ') && !line.startsWith('| figure |');
}
