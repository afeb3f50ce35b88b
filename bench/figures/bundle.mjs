// Browser bundle size: esbuild --bundle --minify --format=esm --platform=browser
// of the `agent-tether` entry (dist/index.js, what the package's "import"
// condition points at), gzip -9. Also lists what takes the space (bytes of
// minified output per package, from esbuild's metafile).
//
//   node bench/figures/bundle.mjs
import { measureBundle } from '../../scripts/build-browser.mjs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { DIST, ROOT, emit, fmt } from '../lib/common.mjs';

const bundle = measureBundle;

const result = await bundle(path.join(DIST, 'index.js'));
const out = result.outputFiles[0].contents;
const gz = gzipSync(out, { level: 9 }).length;

const byPkg = new Map();
for (const [file, info] of Object.entries(Object.values(result.metafile.outputs)[0].inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  const key = m ? m[1] : file.startsWith('dist/') ? 'agent-tether (dist)' : file;
  byPkg.set(key, (byPkg.get(key) ?? 0) + info.bytesInOutput);
}
// Attribution by source file: the same bundle built from src/index.ts (dist/index.js is
// itself a bundle, so its metafile cannot say which module the bytes come from).
const bySource = await bundle(path.join(ROOT, 'src', 'index.ts')).then(
  (r) =>
    Object.entries(Object.values(r.metafile.outputs)[0].inputs)
      .map(([file, info]) => [file.replace(/^node_modules\//, ''), info.bytesInOutput])
      .sort((a, b) => b[1] - a[1]),
  () => [],
);
const topSources = bySource.slice(0, 12).map(([f, b]) => `${f} ${fmt.kb(b)}`);
console.error(`  largest modules (minified, from src/): ${topSources.join(', ')}`);
const parts = [...byPkg].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${fmt.kb(v)}`);
console.error(`  minified ${fmt.kb(out.length)}, gzip -9 ${fmt.kb(gz)}; min bytes by package: ${parts.join(', ')}`);
const target = 12 * 1024;
emit({
  rows: [
    {
      figure: 'browser bundle (gzip -9)',
      sdk: fmt.kb(gz),
      baseline: '13.6 KB (socket.io-client, cited)',
      ratio: gz / (13.6 * 1024),
      target: '≤ 12 KB',
      pass: gz <= target,
      command: 'node bench/run.mjs --only bundle',
      note: `minified ${fmt.kb(out.length)}; minified bytes by package: ${parts.join(', ')}; largest modules: ${topSources.join(', ')}`,
    },
  ],
});
