#!/usr/bin/env node
// ovn-natgwctl. Installed (npm pack / npm install -g): the compiled JavaScript
// in dist/. In a source checkout (src/ is there): the TypeScript source through
// tsx, so that a dist/ left from an earlier build never stands in for src/.
import { existsSync } from 'node:fs';

const src = new URL('../src/cli/natgwctl.ts', import.meta.url);
let mod;
if (existsSync(src)) {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    process.stderr.write('ovn-natgwctl: this is a source checkout and tsx is missing: run npm ci (or npm run build and install the package)\n');
    process.exit(1);
  }
  mod = await import(src.href);
} else {
  mod = await import(new URL('../dist/cli/natgwctl.js', import.meta.url).href);
}
await mod.run(process.argv.slice(2));
