import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleForNode, root } from '../examples/support.js';

const run = promisify(execFile);

/** A ```js run block of a doc, and the ```text block right after it (what it must print), if any. */
export interface DocExample {
  line: number;
  code: string;
  expected: string | undefined;
}

/** The runnable examples of a markdown text, in order. */
export function runnableExamples(markdown: string): DocExample[] {
  const fence = /^```([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm;
  const blocks = [...markdown.matchAll(fence)].map((m) => ({
    info: m[1]!.trim(),
    body: m[2]!,
    line: markdown.slice(0, m.index).split('\n').length,
    end: m.index! + m[0].length,
    start: m.index!,
  }));
  const examples: DocExample[] = [];
  blocks.forEach((block, i) => {
    if (block.info !== 'js run') return;
    const next = blocks[i + 1];
    // The output block counts only when nothing but blank lines separates it from the code.
    const adjacent = next !== undefined && next.info === 'text' && markdown.slice(block.end, next.start).trim() === '';
    examples.push({ line: block.line, code: block.body, expected: adjacent ? next.body : undefined });
  });
  return examples;
}

const doc = 'docs/server.md';
const examples = runnableExamples(await readFile(join(root, doc), 'utf8'));
const dir = join(root, '.tmp', 'docs-examples');
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe(`${doc}: every \`js run\` example`, () => {
  it('has the examples the agent section promises, each with the output it prints', () => {
    expect(examples.length).toBeGreaterThanOrEqual(6);
    for (const example of examples) expect(example.expected, `example at line ${example.line}`).toBeDefined();
  });

  it.each(examples.map((example) => [example.line, example] as const))(
    'the example at line %i runs against a real server and prints what the doc shows',
    async (line, example) => {
      await mkdir(dir, { recursive: true });
      const source = `server-${line}.mjs`;
      await writeFile(join(dir, source), example.code);
      // `agent-tether` resolves to the sources, as in the examples' tests.
      const bundle = await bundleForNode(join('.tmp', 'docs-examples', source));
      try {
        const { stdout } = await run(process.execPath, [bundle.file], { cwd: root, timeout: 20_000 });
        expect(stdout).toBe(example.expected);
      } finally {
        await bundle.remove();
      }
    },
  );
});

describe('runnableExamples', () => {
  it('pairs each `js run` block with the `text` block right after it, and only those', () => {
    const markdown = [
      '```js run', 'a()', '```', '', '```text', 'A', '```',
      '```js', 'skipped()', '```',
      '```js run', 'b()', '```', 'prose between', '```text', 'not B', '```',
    ].join('\n');
    expect(runnableExamples(markdown)).toEqual([
      { line: 1, code: 'a()\n', expected: 'A\n' },
      { line: 11, code: 'b()\n', expected: undefined },
    ]);
  });
});
