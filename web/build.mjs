// Builds the web app into an output directory (default: dist/):
// index.html, favicon.svg, app.js (the bundle of src/main.js and its npm packages,
// minified), app.css and licenses.txt (the licence texts of the bundled
// packages). The build is deterministic: the same sources and lockfile make
// the same bytes, which the Go test compares with the embedded dist/.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync, copyFileSync, rmSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ? process.argv[2] : join(here, 'dist');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: join(here, 'src/main.js') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  outdir: out,
  legalComments: 'none', // the full licence texts are in licenses.txt
  logLevel: 'warning',
  absWorkingDir: here,
});
copyFileSync(join(here, 'src/app.css'), join(out, 'app.css'));
copyFileSync(join(here, 'src/index.html'), join(out, 'index.html'));
copyFileSync(join(here, 'src/favicon.svg'), join(out, 'favicon.svg'));

// The licence (and NOTICE) texts of every package in the bundle.
const bundled = ['preact', 'htm', 'lightweight-charts', 'fancy-canvas'];
let text = 'Third-party software in app.js\n';
for (const name of bundled) {
  const dir = join(here, 'node_modules', name);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  text += `\n==== ${name} ${pkg.version} (${pkg.license})\n`;
  for (const f of ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'NOTICE', 'NOTICE.md']) {
    if (existsSync(join(dir, f))) text += `\n-- ${f}\n\n` + readFileSync(join(dir, f), 'utf8').trim() + '\n';
  }
  // lightweight-charts states its attribution terms in its README (shown
  // under the candlestick chart).
  const readme = join(dir, 'README.md');
  const m = name === 'lightweight-charts' && readFileSync(readme, 'utf8').match(/\n## License\n([\s\S]*?)(\n## |\n\[[^\]]+\]: |$)/);
  if (m) text += `\n-- README.md, License\n\n${m[1].trim()}\n`;
}
writeFileSync(join(out, 'licenses.txt'), text);
