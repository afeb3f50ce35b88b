/**
 * SIGKILL during heavy writes, again and again: an acknowledged prompt is never
 * lost, an event a reader saw is never lost or changed, and no record is ever
 * torn (F10). Each round kills a server child at a random moment while prompts
 * and streams are in flight, then checks the directory through a fresh
 * fileStore and lets the next round's server recover it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../src/protocol/index.js';
import { fileStore } from '../../src/server.js';
import { api, eventually, onTeardown, prompt, SseReader } from './helpers.js';
import { startChild } from './child-server.js';

const ROUNDS = 20;

describe('F10: SIGKILL during heavy writes', () => {
  it(`over ${ROUNDS} kills: no acknowledged prompt lost, no seen event lost or changed, no torn record`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tether-crash-'));
    onTeardown(() => rm(dir, { recursive: true, force: true }));
    const acknowledged = new Map<string, Set<string>>(); // sessionId → turn ids answered 201
    const seen = new Map<string, Map<number, string>>(); // sessionId → seq → event JSON a reader got
    let random = 42;
    const next = () => (random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31; // seeded: the same kill times every run

    for (let round = 0; round < ROUNDS; round++) {
      const { child, url, exited } = await startChild(dir);
      const sessions = [...acknowledged.keys()];
      while (sessions.length < 3) {
        const created = await api(url, 'POST', '/v1/sessions', {});
        expect(created.status).toBe(201);
        sessions.push(created.body.session.id);
        acknowledged.set(created.body.session.id, new Set());
        seen.set(created.body.session.id, new Map());
      }
      const readers = sessions.map((sid) => {
        const reader = new SseReader(`${url}/v1/sessions/${sid}/events?after=0`);
        onTeardown(() => reader.close());
        return { sid, reader };
      });
      let killed = false;
      let acknowledgedThisRound = 0;
      const writers = sessions.map(async (sid) => {
        while (!killed) {
          const reply = await prompt(url, sid, `round ${round}`).catch(() => undefined);
          if (reply?.status === 201) {
            acknowledged.get(sid)!.add(reply.body.turn.id);
            acknowledgedThisRound++;
          }
        }
      });
      // Every round kills with writes acknowledged and more in flight: on a loaded machine a
      // fixed delay alone could kill before the first 201 and the round would test nothing.
      await eventually(() => acknowledgedThisRound > 0, `round ${round}: a prompt acknowledged`, 60_000);
      await new Promise((resolve) => setTimeout(resolve, 150 + Math.floor(next() * 350)));
      child.kill('SIGKILL');
      killed = true;
      await exited;
      await Promise.all(writers);
      for (const { sid, reader } of readers) {
        reader.close();
        for (const event of reader.events) seen.get(sid)!.set(event.seq, JSON.stringify(event));
      }

      // The directory as a fresh process sees it.
      const store = fileStore({ dir });
      for (const sid of sessions) {
        const loaded = (await store.loadSession(sid, { maxEvents: 10_000 }))!;
        expect(loaded.problems, `round ${round}`).toBeUndefined(); // nothing torn, nothing corrupt
        const seqs = loaded.events.map((e: SessionEvent) => e.seq);
        expect(seqs, `round ${round}: contiguous`).toEqual(seqs.map((_, i) => seqs[0]! + i));
        const turnIds = new Set(loaded.turns.map((t) => t.id));
        for (const turnId of acknowledged.get(sid)!) expect(turnIds.has(turnId), `round ${round}: turn ${turnId}`).toBe(true);
        const stored = new Map(loaded.events.map((e: SessionEvent) => [e.seq, JSON.stringify(e)]));
        for (const [seq, json] of seen.get(sid)!) {
          if (seqs.length > 0 && seq >= seqs[0]!) expect(stored.get(seq), `round ${round}: seq ${seq}`).toBe(json);
        }
        // Nothing a reader saw is beyond the stored end (a session killed before its first event has none).
        expect(seqs.at(-1) ?? 0).toBeGreaterThanOrEqual(Math.max(0, ...seen.get(sid)!.keys()));
      }
      await store.close();
    }
  }, 240_000);
});
