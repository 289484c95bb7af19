#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4
// ovn-natgwd (see launch.js for which code runs).
// Run as a program (the installed bin, the systemd unit), node gets what a resident
// process of 100k objects needs to stay small (bench/RESULTS.md, 2026-12-04): glibc's
// malloc in 2 arenas, not one per thread (26 MB less at 100k FIPs), and a young
// generation of 4 MB semi-spaces, not 16 (25 MB less; a start from an empty NB takes
// ~10 % longer). Another choice: run `node [flags] $(command -v ovn-natgwd)` instead.
import { load } from './launch.js';

const mod = await load('ovn-natgwd', 'src/daemon/natgwd.ts', 'dist/daemon/natgwd.js');
await mod.main(process.argv.slice(2));
