/**
 * ovn-nbctl contender: one ovn-nbctl invocation (= one OVSDB transaction) per
 * chunk of routers, commands joined with `--`, arguments passed with execFile
 * (no shell).
 */
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { hasNatExternalIds, type RouterSpec, type Workload } from '../workload.js';

export const DEFAULT_NBCTL_CHUNK = 100;

/** ovn-nbctl commands for one router, each command's argv starting with its name. */
export function nbctlRouterCommands(r: RouterSpec): string[][] {
  const cmds: string[][] = [];
  cmds.push(['lr-add', r.name]);
  const ids = Object.entries(r.externalIds).map(([k, v]) => `external_ids:${JSON.stringify(k)}=${JSON.stringify(v)}`);
  if (ids.length) cmds.push(['set', 'Logical_Router', r.name, ...ids]);
  cmds.push(['lrp-add', r.name, r.port.name, r.port.mac, ...r.port.networks]);
  for (const gc of r.port.gatewayChassis) cmds.push(['lrp-set-gateway-chassis', r.port.name, gc.chassisName, String(gc.priority)]);
  cmds.push(['lr-nat-add', r.name, r.snat.type, r.snat.externalIp, r.snat.logicalIp]);
  for (const f of r.fips) cmds.push(['lr-nat-add', r.name, f.type, f.externalIp, f.logicalIp]);
  for (const rt of r.routes) cmds.push(['lr-route-add', r.name, rt.ipPrefix, rt.nexthop]);
  return cmds;
}

function nbctl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ovn-nbctl', args, { maxBuffer: 64 * 1024 * 1024, timeout: 600_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`ovn-nbctl failed: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

/** Builds the argv of every invocation (one per chunk). */
export function nbctlInvocations(nbRemote: string, w: Workload, chunk = DEFAULT_NBCTL_CHUNK): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < w.routers.length; i += chunk) {
    const args = [`--db=${nbRemote}`, '--no-leader-only', '--timeout=600'];
    for (const r of w.routers.slice(i, i + chunk)) for (const c of nbctlRouterCommands(r)) args.push('--', ...c);
    out.push(args);
  }
  return out;
}

/** Applies the workload; returns wall seconds from the first spawn to the last exit. */
export async function nbctlApply(nbRemote: string, w: Workload, chunk = DEFAULT_NBCTL_CHUNK): Promise<{ seconds: number; invocations: number }> {
  if (hasNatExternalIds(w)) throw new Error('ovn-nbctl contender: NAT external_ids are not supported (lr-nat-add cannot set them)');
  const invocations = nbctlInvocations(nbRemote, w, chunk);
  const t0 = performance.now();
  for (const args of invocations) await nbctl(args);
  return { seconds: (performance.now() - t0) / 1000, invocations: invocations.length };
}
