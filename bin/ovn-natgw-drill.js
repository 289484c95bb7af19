#!/usr/bin/env node
// ovn-natgw-drill (see launch.js for which code runs).
import { load } from './launch.js';

const mod = await load('ovn-natgw-drill', 'src/cli/drill.ts', 'dist/cli/drill.js');
await mod.main(process.argv.slice(2));
