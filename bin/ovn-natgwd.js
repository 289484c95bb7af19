#!/usr/bin/env node
// ovn-natgwd (see launch.js for which code runs).
import { load } from './launch.js';

const mod = await load('ovn-natgwd', 'src/daemon/natgwd.ts', 'dist/daemon/natgwd.js');
await mod.main(process.argv.slice(2));
