#!/usr/bin/env node
// ovn-natgwctl (see launch.js for which code runs).
import { load } from './launch.js';

const mod = await load('ovn-natgwctl', 'src/cli/natgwctl.ts', 'dist/cli/natgwctl.js');
await mod.run(process.argv.slice(2));
