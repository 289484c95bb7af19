// The bins' loader. Installed (npm pack / npm install -g): the compiled
// JavaScript in dist/. In a source checkout (src/ is there): the TypeScript
// source through tsx, so that a dist/ left from an earlier build never stands
// in for src/.
import { existsSync } from 'node:fs';

/** The module of a bin: `src` (in a checkout) or `dist` (installed), relative to the package root. */
export async function load(name, src, dist) {
  const srcUrl = new URL(`../${src}`, import.meta.url);
  if (existsSync(srcUrl)) {
    try {
      const { register } = await import('tsx/esm/api');
      register();
    } catch {
      process.stderr.write(`${name}: this is a source checkout and tsx is missing: run npm ci (or npm run build and install the package)\n`);
      process.exit(1);
    }
    return import(srcUrl.href);
  }
  return import(new URL(`../${dist}`, import.meta.url).href);
}
