/** A private virtual X display for one suite: Xvfb picks a free display number itself, and teardown stops it. */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

/** A running Xvfb; `display` is what `DISPLAY` should be set to. */
export interface Xvfb {
  readonly display: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts Xvfb on a display number no other X server uses (`-displayfd`: the
 * server chooses and reports it), with no TCP listener.
 */
export async function startXvfb(executablePath: string, { timeoutMs = 15_000 } = {}): Promise<Xvfb> {
  const child = spawn(executablePath, ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '1280x800x24'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = () => stopChild(child, exited);

  try {
    const number = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`Xvfb reported no display within ${timeoutMs} ms`)), timeoutMs);
      (child.stdio[3] as Readable).setEncoding('utf8').on('data', (text: string) => {
        out += text;
        if (!out.includes('\n')) return;
        clearTimeout(timer);
        resolve(out.trim());
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`Xvfb exited before reporting a display: ${stderr.trim()}`));
      });
    });
    return { display: `:${number}`, pid: child.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Ends a child this suite started: SIGTERM, then SIGKILL if it lingers; resolves once it is gone. */
export async function stopChild(child: ChildProcess, exited: Promise<void>, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const lingering = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  if (await Promise.race([exited.then(() => false), lingering])) child.kill('SIGKILL');
  clearTimeout(timer);
  await exited;
}
