import type { BuildResult } from 'esbuild';

/** See build-browser.mjs. */
export function buildBrowserBundle(options?: { outfile?: string; write?: boolean; minify?: boolean }): Promise<string>;
/** See build-browser.mjs: the browser-bundle measure, in memory, with a metafile. */
export function measureBundle(entry: string): Promise<BuildResult<{ write: false; metafile: true }>>;
