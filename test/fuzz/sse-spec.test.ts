/**
 * SSE parsing edge cases from the WHATWG HTML "Server-sent events" section
 * (§9.2.6 "Interpreting an event stream") and the web-platform-tests
 * `eventsource/` suite, run through agent-tether's SSE transport byte for
 * byte (each chunk is its own read). The ids and `retry:` cases are also
 * checked on the parser the transport is built on (`eventsource-parser`),
 * because the transport resumes from the event's `seq`, not from the SSE id.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSseTransport } from '../../src/transport/index.js';
import { chunkedResponse, cut, event, recorder, transportOptions, within } from './helpers.js';

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** Streams `chunks` through a fresh SSE transport until the body ends; returns what it reported. */
async function run(chunks: Uint8Array[]) {
  const rec = recorder();
  const t = createSseTransport(transportOptions({ fetch: async () => chunkedResponse(chunks) }), rec);
  t.subscribe('s1', { after: 0 });
  const info = await within(rec.whenClosed, 3000, 'SSE stream');
  await t.close();
  return { events: rec.delivered, info, opened: rec.opened };
}

/** Everything eventsource-parser reports for `chunks`. */
function parse(chunks: string[]) {
  const messages: EventSourceMessage[] = [];
  const retries: number[] = [];
  const parser = createParser({ onEvent: (m) => messages.push(m), onRetry: (ms) => retries.push(ms) });
  for (const c of chunks) parser.feed(c);
  return { messages, retries };
}

const e1 = JSON.stringify(event(1));
const e2 = JSON.stringify(event(2));

describe('line endings (CR, LF, CRLF), split across chunks', () => {
  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ])('%s: every split point gives the same events', async (_name, nl) => {
    const body = bytes(`data: ${e1}${nl}${nl}data: ${e2}${nl}${nl}`);
    for (let at = 1; at < body.length; at++) {
      const { events, info } = await run(cut(body, [at]));
      expect(events, `split at ${at}`).toEqual([event(1), event(2)]);
      expect(info.error?.code).toBe('stream_ended');
    }
  });

  it('a CRLF split between its CR and LF is one line end, not two (a multi-line event stays whole)', async () => {
    // JSON across two data lines: were CR|LF read as two line ends, the blank line would dispatch half an event.
    const half = e1.indexOf(',"seq"');
    const text = `data: ${e1.slice(0, half)}\r\ndata: ${e1.slice(half)}\r\n\r\n`;
    const body = bytes(text);
    const cuts = [...text.matchAll(/\r/g)].map((m) => m.index! + 1);
    const { events, info } = await run(cut(body, cuts));
    expect(events).toEqual([event(1)]);
    expect(info.error?.code).toBe('stream_ended');
  });

  it('mixed line endings in one stream, random chunkings', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('\n', '\r\n', '\r'), { minLength: 4, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 30 }), async ([a, b, c0, d], cuts) => {
        // CR followed by LF is one line end: keep the blank line a blank line.
        const c = b === '\r' && c0 === '\n' ? '\r\n' : c0;
        const body = bytes(`: hi${a}data: ${e1}${b}${c}data: ${e2}${d}${d === '\r' && a === '\n' ? '\r\n' : a}`);
        const { events } = await run(cut(body, cuts));
        expect(events).toEqual([event(1), event(2)]);
      }),
      { seed: 7, numRuns: 100 },
    );
  });
});

describe('byte order mark', () => {
  it('a leading U+FEFF is skipped, also when its bytes are split across chunks', async () => {
    const body = concat(new Uint8Array([0xef, 0xbb, 0xbf]), bytes(`data: ${e1}\n\n`));
    for (const cuts of [[], [1], [2], [3], [1, 2]]) {
      const { events } = await run(cut(body, cuts));
      expect(events, `cuts ${cuts}`).toEqual([event(1)]);
    }
  });

  // WPT eventsource/format-bom-2. Bug 5, fixed in fba174c: the transport's TextDecoder stripped one
  // BOM and eventsource-parser another, so two leading BOMs were both dropped.
  it('only the first BOM is skipped: a second one makes the next field name unknown (ignored)', async () => {
    const body = concat(new Uint8Array([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), bytes(`data: ${e1}\n\ndata: ${e2}\n\n`));
    const { events } = await run([body]);
    expect(events).toEqual([event(2)]);
  });
});

describe('fields', () => {
  it('multi-line data is joined with LF (JSON split across data lines parses)', async () => {
    const lines = e1.replace(/,/g, ',\n').split('\n');
    const { events } = await run([bytes(lines.map((l) => `data: ${l}\n`).join('') + '\n')]);
    expect(events).toEqual([event(1)]);
  });

  it('"data:" with no space, one leading space stripped only, and comment lines are ignored', async () => {
    const { events } = await run([bytes(`:comment\ndata:${e1}\n\n: another\ndata:  ${e2}\n\n`)]);
    // A second space is part of the value: JSON allows leading whitespace, so both parse.
    expect(events).toEqual([event(1), event(2)]);
  });

  it('unknown fields and a field without a colon are ignored; an event type other than reset is skipped', async () => {
    const { events, info } = await run([bytes(`foo: bar\nbaz\ndata: ${e1}\n\nevent: future\ndata: {"x":1}\n\ndata: ${e2}\n\n`)]);
    expect(events).toEqual([event(1), event(2)]);
    expect(info.error?.code).toBe('stream_ended');
  });

  it('an empty data buffer dispatches nothing ("event:" alone, blank lines)', async () => {
    const { events } = await run([bytes(`\n\n\nevent: x\n\nid: 3\n\ndata: ${e1}\n\n`)]);
    expect(events).toEqual([event(1)]);
  });
});

describe('id', () => {
  it('an id containing NUL is ignored (the parser reports no id for that event); the transport still delivers the event', async () => {
    // eventsource-parser reports each event's own id field; the "last event ID" buffer is the consumer's.
    const text = `id: 1\ndata: ${e1}\n\nid: 2\u00002\ndata: ${e2}\n\n`;
    const { messages } = parse([text]);
    expect(messages.map((m) => m.id)).toEqual(['1', undefined]);
    const { events } = await run([bytes(text)]);
    expect(events).toEqual([event(1), event(2)]);
  });

  it('an empty "id:" resets the last event id (reported as the empty string, unlike an absent id)', () => {
    const { messages } = parse([`id: 7\ndata: a\n\nid:\ndata: b\n\ndata: c\n\n`]);
    expect(messages.map((m) => m.id)).toEqual(['7', '', undefined]);
  });

  it('the transport resumes from the seq it delivered, whatever the ids said', async () => {
    // ids that disagree with seq (or are absent) do not move the cursor: Last-Event-ID is the seq.
    const urls: string[] = [];
    const lastIds: Array<string | null> = [];
    const rec = recorder();
    const t = createSseTransport(
      transportOptions({
        fetch: async (url, init) => {
          urls.push(String(url));
          lastIds.push(new Headers(init?.headers).get('last-event-id'));
          return chunkedResponse([bytes(`id: 999\ndata: ${e1}\n\nid:\ndata: ${e2}\n\n`)]);
        },
      }),
      rec,
    );
    t.subscribe('s1', { after: 41, epoch: 'e1' });
    await within(rec.whenClosed, 3000, 'stream');
    await t.close();
    expect(lastIds).toEqual(['41']);
    expect(urls[0]).toContain('after=41');
  });
});

describe('retry', () => {
  it.each(['retry: abc', 'retry: 10x', 'retry: -5', 'retry: 1.5', 'retry:', 'retry: ', 'retry: 1 0'])('bogus "%s" is ignored', async (line) => {
    expect(parse([`retry: 50\n${line}\n\n`]).retries).toEqual([50]);
    const { info } = await run([bytes(`retry: 50\n${line}\ndata: ${e1}\n\n`)]);
    expect(info.retryHintMs).toBe(50);
  });

  it('a valid retry is taken (all ASCII digits)', async () => {
    const { info } = await run([bytes(`retry: 50\nretry: 0123\n\n`)]);
    expect(info.retryHintMs).toBe(123);
  });
});

describe('end of stream', () => {
  it('a final event without its blank line is discarded', async () => {
    for (const tail of [`data: ${e2}`, `data: ${e2}\n`, `data: ${e2}\r\n`, `data: ${e2}\r`]) {
      const { events, info } = await run([bytes(`data: ${e1}\n\n${tail}`)]);
      expect(events, JSON.stringify(tail)).toEqual([event(1)]);
      expect(info.error?.code).toBe('stream_ended');
    }
  });
});

describe('UTF-8', () => {
  it('multibyte characters split at every byte across chunks arrive intact', async () => {
    const ev = event(1, { text: 'é€😀中文 — ✓' });
    const body = bytes(`data: ${JSON.stringify(ev)}\n\n`);
    const start = body.indexOf(0xc3); // first byte of "é"
    for (let at = start; at < start + 20; at++) {
      const { events } = await run(cut(body, [at]));
      expect(events, `split at ${at}`).toEqual([ev]);
    }
  });

  it('random chunkings, down to one byte per chunk', async () => {
    const ev = event(1, { text: '😀'.repeat(5) + 'é€' });
    const body = bytes(`data: ${JSON.stringify(ev)}\r\n\r\n`);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: body.length }), { maxLength: body.length }), async (cuts) => {
        const { events } = await run(cut(body, cuts));
        expect(events).toEqual([ev]);
      }),
      { seed: 11, numRuns: 60 },
    );
    const oneByOne = Array.from(body, (b) => new Uint8Array([b]));
    expect((await run(oneByOne)).events).toEqual([ev]);
  });
});
