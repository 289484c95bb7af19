#!/usr/bin/env node
// ovn-natgwctl: runs the compiled CLI from dist/ when built (`npm run build`),
// otherwise the TypeScript source through tsx (a source checkout).
import { existsSync } from 'node:fs';

const dist = new URL('../dist/src/natgwctl.js', import.meta.url);
let mod;
if (existsSync(dist)) {
  mod = await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(new URL('../src/natgwctl.ts', import.meta.url).href);
}
await mod.run(process.argv.slice(2));
