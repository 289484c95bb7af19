/**
 * ovn-natgwctl: plan, apply, get and delete ovn-natgw objects directly on NB.
 *
 *   ovn-natgwctl [--db NB] [--sb SB] [--owner NAME] COMMAND ...
 *     plan   -f FILE|DIR|- [-f ...] [--gateway-chassis K] [--cluster-router NAME]
 *     apply  -f FILE|DIR|- [-f ...] [--gateway-chassis K] [--cluster-router NAME]
 *     get    KIND [NAME] [-o json]
 *     delete KIND NAME
 *
 * --db defaults to $OVN_NB_DB, --sb to $OVN_SB_DB (read for gateway chassis; with get, a
 * gateway chassis that SB does not know does not count for READY).
 * TLS like the OVN tools: -p/--private-key, -c/--certificate, -C/--ca-cert.
 * Exit status 0 on success; on error the message goes to stderr, status 1
 * (2 for usage errors).
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { NatGateway } from './nat/apply.js';
import { loadManifests, ManifestError } from './nat/manifest.js';
import type { Change, Plan } from './nat/plan.js';
import { DEFAULT_OWNER, PlanError } from './nat/rows.js';
import { DEFAULT_CLUSTER_ROUTER } from './nat/desired.js';
import { canonicalKind, deleteOps, formatStatus, objectStatus } from './nat/status.js';

const USAGE = `usage: ovn-natgwctl [--db NB] [--sb SB] [--owner NAME] COMMAND
  plan   -f FILE [-f FILE...] [--gateway-chassis K]   show what apply would change
  apply  -f FILE [-f FILE...] [--gateway-chassis K]   apply in one transaction
  get    KIND [NAME] [-o json]                         status (KIND: ofip, oeip, osnat, odnat, vip, vpc, subnet)
  delete KIND NAME                                     delete one object's rows
options: --db (default $OVN_NB_DB), --sb (default $OVN_SB_DB), --owner (default ${DEFAULT_OWNER}),
         --cluster-router NAME (the default VPC that enable-external-gw attaches, default ${DEFAULT_CLUSTER_ROUTER}),
         -p/--private-key, -c/--certificate, -C/--ca-cert
`;

class UsageError extends Error {}

export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values: o, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      db: { type: 'string' },
      sb: { type: 'string' },
      owner: { type: 'string' },
      file: { type: 'string', short: 'f', multiple: true },
      output: { type: 'string', short: 'o' },
      'gateway-chassis': { type: 'string' },
      'cluster-router': { type: 'string' },
      'private-key': { type: 'string', short: 'p' },
      certificate: { type: 'string', short: 'c' },
      'ca-cert': { type: 'string', short: 'C' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (o.help) {
    out.write(USAGE);
    return 0;
  }
  const [cmd, ...rest] = positionals;
  if (!cmd) throw new UsageError('missing command');
  const nb = o.db ?? process.env.OVN_NB_DB;
  if (!nb) throw new UsageError('no NB database: give --db or set OVN_NB_DB');
  const sb = o.sb ?? process.env.OVN_SB_DB;
  const owner = o.owner ?? DEFAULT_OWNER;
  let gatewayChassis: number | undefined;
  if (o['gateway-chassis'] !== undefined) {
    gatewayChassis = Number(o['gateway-chassis']);
    if (!Number.isInteger(gatewayChassis)) throw new UsageError(`--gateway-chassis: not an integer: "${o['gateway-chassis']}"`);
  }
  const tls =
    o['private-key'] || o.certificate || o['ca-cert']
      ? { privateKey: o['private-key'] ?? '', certificate: o.certificate ?? '', caCert: o['ca-cert'] ?? '' }
      : undefined;
  if (o.output !== undefined && o.output !== 'json') throw new UsageError(`-o: only "json" is supported, got "${o.output}"`);

  const needsSb = cmd === 'plan' || cmd === 'apply' || cmd === 'get';
  const gw = new NatGateway({
    nb,
    ...(needsSb && sb ? { sb } : {}),
    ...(tls ? { tls } : {}),
    logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2)),
    timeoutMs: 30_000,
  });
  switch (cmd) {
    case 'plan':
    case 'apply': {
      if (!o.file?.length) throw new UsageError(`${cmd}: give the manifest with -f FILE`);
      const manifest = await loadManifests(o.file);
      for (const n of manifest.notices) process.stderr.write(`notice: ${n.kind} ${n.name}: ${n.field ? `${n.field}: ` : ''}${n.message}\n`);
      await gw.connect();
      try {
        const clusterRouter = o['cluster-router'];
        const opts = { owner, ...(gatewayChassis !== undefined ? { gatewayChassis } : {}), ...(clusterRouter ? { clusterRouter } : {}) };
        if (cmd === 'plan') {
          printPlan(out, gw.plan(manifest, opts), false);
        } else {
          const r = await gw.apply(manifest, opts);
          printPlan(out, r.plan, true);
          if (r.converged === false) process.stderr.write('warning: a plan made after the commit still finds changes (another writer changed NB meanwhile?); apply again\n');
        }
      } finally {
        await gw.close();
      }
      return 0;
    }
    case 'get': {
      const kind = canonicalKind(rest[0] ?? '');
      if (!kind) throw new UsageError(`get: unknown kind "${rest[0] ?? ''}" (ofip, oeip, osnat, odnat, vip, vpc, subnet)`);
      await gw.connect();
      try {
        const chassis = gw.chassisNames();
        const list = objectStatus(gw.view(), owner, kind, rest[1], chassis ? { chassis } : {});
        if (rest[1] !== undefined && list.length === 0) throw new Error(`${kind} "${rest[1]}" not found (owner ${owner})`);
        out.write(o.output === 'json' ? JSON.stringify(rest[1] !== undefined ? list[0] : list, null, 2) + '\n' : formatStatus(kind, list));
      } finally {
        await gw.close();
      }
      return 0;
    }
    case 'delete': {
      const kind = canonicalKind(rest[0] ?? '');
      if (!kind || !rest[1]) throw new UsageError('delete: give KIND NAME');
      await gw.connect();
      try {
        const { ops, removed } = deleteOps(gw.view(), owner, kind, rest[1]);
        if (ops.length === 0) throw new Error(`${kind} "${rest[1]}" not found (owner ${owner})`);
        await gw.nbClient.transact(ops, { comment: `ovn-natgwctl delete ${kind} ${rest[1]}` });
        for (const r of removed) out.write(`- ${r}\n`);
      } finally {
        await gw.close();
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

function printPlan(out: NodeJS.WritableStream, plan: Plan, applied: boolean): void {
  const sign: Record<Change['action'], string> = { add: '+', change: '~', remove: '-' };
  for (const c of plan.changes) {
    out.write(`${sign[c.action]} ${c.label}\n`);
    for (const [col, [a, b]] of Object.entries(c.columns ?? {})) out.write(`    ${col}: ${a} -> ${b}\n`);
  }
  for (const w of plan.warnings) process.stderr.write(`warning: ${w}\n`);
  const n = (a: Change['action']) => plan.changes.filter((c) => c.action === a).length;
  const summary = `${n('add')} to add, ${n('change')} to change, ${n('remove')} to remove`;
  if (plan.changes.length === 0) out.write('no changes\n');
  else out.write(applied ? `applied in one transaction: ${summary}\n` : `plan: ${summary}\n`);
}

export async function run(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    const err = e as Error;
    if (err instanceof UsageError || String((err as { code?: string }).code ?? '').startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`ovn-natgwctl: ${err.message}\n${USAGE}`);
      process.exitCode = 2;
    } else if (err instanceof ManifestError || err instanceof PlanError) {
      process.stderr.write(`ovn-natgwctl: nothing was written:\n${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`ovn-natgwctl: ${err.message}\n`);
      process.exitCode = 1;
    }
  }
}
