/**
 * Child process for `bench replica ovn-natgw`: runs natgwReplica() alone in
 * this process so that peak RSS is its own. Prints one JSON line on stdout:
 * {"seconds":..,"sync_seconds":..,"rows":..,"rss_mb":..} or {"error":"..."}:
 * seconds from before connecting, sync_seconds from the monitor request.
 *
 * usage: tsx bench/child-replica.ts NB_REMOTE
 */
import { performance } from 'node:perf_hooks';
import { natgwReplica } from './contenders/natgw.js';

const remote = process.argv[2];
if (!remote) {
  process.stderr.write('usage: child-replica.ts NB_REMOTE\n');
  process.exit(2);
}
try {
  const t0 = performance.now();
  const { rows, syncSeconds } = await natgwReplica(remote);
  const seconds = (performance.now() - t0) / 1000;
  const rss_mb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ seconds, sync_seconds: syncSeconds, rows, rss_mb }) + '\n');
  process.exit(0);
} catch (e) {
  process.stdout.write(JSON.stringify({ error: (e as Error)?.message ?? String(e) }) + '\n');
  process.exit(1);
}
