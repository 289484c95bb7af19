/**
 * What `ovn-natgwctl` prints: plans (one line per row, like `terraform
 * plan`), and objects in kubectl's shapes: a table (and `-o wide`), `-o name`,
 * and `-o json` / `-o yaml` with apiVersion, kind, metadata, spec and status
 * (a `List` with `items` for several).
 */
import { stringify } from 'yaml';
import type { Change, Plan } from '../nat/plan.js';
import type { ObjectStatus, ObjectView } from '../nat/status.js';
import type { ExternalGwConfig, ManifestObject, OvnDnatRule, OvnEip, OvnFip, OvnSnatRule, ProviderNetwork, Subnet, Vip, Vlan, Vpc } from '../nat/objects.js';
import { infoOf } from './kinds.js';

export type OutputFormat = 'table' | 'wide' | 'name' | 'json' | 'yaml';

const SIGN: Record<Change['action'], string> = { add: '+', change: '~', remove: '-' };

/** At most this many change lines on a terminal; the rest are counted per table. */
export const TERMINAL_LINES = 40;

/**
 * A plan's lines and its summary. `verb`: "plan", or what was done
 * ("applied", "deleted"). On a terminal (`tty`) a long plan shows its first
 * lines and then the rest counted by action and table.
 */
export function formatPlan(plan: Plan, verb: 'plan' | 'applied' | 'deleted', tty = false): string {
  const lines: string[] = [];
  const all = [...plan.changes, ...plan.specs];
  const shown = tty && all.length > TERMINAL_LINES ? all.slice(0, TERMINAL_LINES / 2) : all;
  for (const c of shown) {
    lines.push(`${SIGN[c.action]} ${c.label}`);
    for (const [col, [a, b]] of Object.entries(c.columns ?? {})) lines.push(`    ${col}: ${a} -> ${b}`);
    if (c.spec && Object.keys(c.columns ?? {}).length) lines.push('    (its last-applied spec, kept with it in NB)');
  }
  if (shown.length < all.length) {
    const rest = new Map<string, number>();
    for (const c of all.slice(shown.length)) {
      const k = `${SIGN[c.action]} ${c.label.startsWith('reservation ') ? 'reservation' : c.spec && !Object.keys(c.columns ?? {}).length ? 'last-applied spec' : c.table}`;
      rest.set(k, (rest.get(k) ?? 0) + 1);
    }
    lines.push(`... and ${all.length - shown.length} more: ${[...rest].map(([k, n]) => `${k} x${n}`).join(', ')} (pipe the output to see every line)`);
  }
  const n = (a: Change['action']) => plan.changes.filter((c) => c.action === a).length;
  // storing an object's last-applied spec anew is a change too
  const summary = `${n('add')} to add, ${n('change') + plan.specs.length} to change, ${n('remove')} to remove`;
  if (all.length === 0) lines.push('no changes');
  else if (verb === 'plan') lines.push(`plan: ${summary}`);
  else lines.push(`${verb} in one transaction: ${summary}`);
  return lines.join('\n') + '\n';
}

/** A kubectl-like table: columns padded, three spaces apart. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows].map((r) => r.map((c, i) => (c ?? '').padEnd(width[i])).join('   ').trimEnd()).join('\n') + '\n';
}

type Column = [string, (v: ObjectView) => string];

const s = (v: unknown): string => (v === undefined || v === null ? '' : Array.isArray(v) ? v.join(',') : String(v));
const obj = <T extends ManifestObject>(v: ObjectView): Partial<T> => (v.object ?? {}) as Partial<T>;
const st = (f: keyof ObjectStatus): ((v: ObjectView) => string) => (v) => s(v.status[f]);

const NAT_COLUMNS: Column[] = [['NAME', st('name')], ['VPC', st('vpc')], ['V4EIP', st('v4Eip')], ['V4IP', st('v4Ip')], ['V6EIP', st('v6Eip')], ['V6IP', st('v6Ip')]];

/** The columns of each kind, and those `-o wide` adds. */
const COLUMNS: Record<string, { base: Column[]; wide: Column[] }> = {
  OvnEip: {
    base: [['NAME', st('name')], ['V4IP', st('v4Ip')], ['V6IP', st('v6Ip')], ['TYPE', (v) => s(obj<OvnEip>(v).type ?? 'nat')]],
    wide: [['EXTERNAL-SUBNET', (v) => s(obj<OvnEip>(v).externalSubnet)], ['MAC', (v) => s(obj<OvnEip>(v).macAddress)]],
  },
  OvnFip: {
    base: NAT_COLUMNS,
    wide: [['EIP', (v) => s(obj<OvnFip>(v).ovnEip)], ['IPNAME', (v) => s(obj<OvnFip>(v).ipName)], ['TYPE', (v) => s(obj<OvnFip>(v).type)]],
  },
  OvnSnatRule: {
    base: NAT_COLUMNS,
    wide: [['EIP', (v) => s(obj<OvnSnatRule>(v).ovnEip)], ['VPC-SUBNET', (v) => s(obj<OvnSnatRule>(v).vpcSubnet)], ['IPNAME', (v) => s(obj<OvnSnatRule>(v).ipName)]],
  },
  OvnDnatRule: {
    base: NAT_COLUMNS,
    wide: [
      ['EIP', (v) => s(obj<OvnDnatRule>(v).ovnEip)],
      ['PROTOCOL', (v) => s(obj<OvnDnatRule>(v).protocol)],
      ['EXTERNAL-PORT', (v) => s(obj<OvnDnatRule>(v).externalPort)],
      ['INTERNAL-PORT', (v) => s(obj<OvnDnatRule>(v).internalPort)],
    ],
  },
  Vip: {
    base: [['NAME', st('name')], ['V4IP', st('v4Ip')], ['V6IP', st('v6Ip')]],
    wide: [['SUBNET', (v) => s(obj<Vip>(v).subnet)]],
  },
  Vpc: {
    base: [
      ['NAME', st('name')],
      ['V4IP', st('v4Ip')],
      ['V6IP', st('v6Ip')],
      ['ROUTES', (v) => String(v.status.staticRoutes?.length ?? 0)],
      ['POLICIES', (v) => String(v.status.policyRoutes?.length ?? 0)],
      ['BFD', (v) => bfdSummary(v.status)],
    ],
    wide: [['EXTERNAL-SUBNETS', (v) => s(obj<Vpc>(v).addExternalSubnets)]],
  },
  Subnet: {
    base: [
      ['NAME', st('name')],
      ['PROVIDER', (v) => s(obj<Subnet>(v).vlan ?? obj<Subnet>(v).provider)],
      ['VPC', (v) => s(obj<Subnet>(v).vpc ?? v.status.vpc)],
      ['PROTOCOL', (v) => s(obj<Subnet>(v).protocol)],
      ['CIDR', (v) => s(obj<Subnet>(v).cidrBlock)],
    ],
    wide: [
      ['GATEWAY', (v) => s(obj<Subnet>(v).gateway)],
      ['GATEWAYTYPE', (v) => s(obj<Subnet>(v).gatewayType)],
      ['EXCLUDEIPS', (v) => s(obj<Subnet>(v).excludeIps)],
    ],
  },
  Vlan: {
    base: [['NAME', st('name')], ['ID', (v) => s(obj<Vlan>(v).id)], ['PROVIDER', (v) => s(obj<Vlan>(v).provider)]],
    wide: [],
  },
  ProviderNetwork: {
    base: [['NAME', st('name')], ['DEFAULTINTERFACE', (v) => s(obj<ProviderNetwork>(v).defaultInterface)]],
    wide: [],
  },
  ConfigMap: {
    base: [
      ['NAME', st('name')],
      ['ENABLE-EXTERNAL-GW', (v) => s(obj<ExternalGwConfig>(v).enableExternalGw)],
      ['TYPE', (v) => s(obj<ExternalGwConfig>(v).type)],
      ['EXTERNAL-GW-NODES', (v) => s(obj<ExternalGwConfig>(v).externalGwNodes)],
    ],
    wide: [['EXTERNAL-GW-ADDR', (v) => s(obj<ExternalGwConfig>(v).externalGwAddr)]],
  },
};

/** `get` as a table: the kind's columns, READY, and REASON when an object is not ready. */
export function formatTable(kind: string, list: readonly ObjectView[], wide: boolean): string {
  const cols = [...COLUMNS[kind].base, ...(wide ? COLUMNS[kind].wide : [])];
  const head = [...cols.map(([h]) => h), 'READY'];
  let rows = list.map((v) => [...cols.map(([, f]) => f(v)), String(v.status.ready)]);
  if (list.some((v) => !v.status.ready)) {
    head.push('REASON');
    rows = rows.map((r, i) => [...r, list[i].status.reason]);
  }
  if (wide) {
    head.push('ROWS');
    rows = rows.map((r, i) => [...r, String(list[i].status.rows.length)]);
  }
  return table(head, rows);
}

/**
 * "up=2 down=1" over the BFD sessions of a Vpc ("-" without any): those of its
 * routes (one per route, also a BFD row named by bfdId) and those it owns that
 * no route uses (enableBfd's); a session not reported yet counts as "unknown".
 */
function bfdSummary(s: ObjectStatus): string {
  const n = new Map<string, number>();
  const count = (status: string) => n.set(status || 'unknown', (n.get(status || 'unknown') ?? 0) + 1);
  const routes = s.staticRoutes ?? [];
  for (const r of routes) if (r.bfd) count(r.bfd.status);
  for (const b of s.bfdSessions ?? []) if (!routes.some((r) => r.bfd?.logicalPort === b.logicalPort && r.nextHopIP === b.dstIp)) count(b.status);
  return n.size ? [...n].sort().map(([k, v]) => `${k}=${v}`).join(' ') : '-';
}

/** An object in kubectl's shape: its last-applied document, with metadata and status. */
export function kubeObject(v: ObjectView, owner: string): Record<string, unknown> {
  const info = infoOf(v.status.kind);
  const section = info.kind === 'ConfigMap' ? 'data' : 'spec';
  const { kind: _k, name: _n, ...status } = v.status;
  return {
    apiVersion: (v.source?.apiVersion as string | undefined) ?? info.apiVersion,
    kind: info.kind,
    metadata: { name: v.status.name, annotations: { 'ovn-natgw/owner': owner } },
    [section]: v.source?.[section] ?? {},
    status,
  };
}

/** `get -o json|yaml|name`, kubectl's way: one object as itself, several (or a list asked for) as a List. */
export function formatObjects(format: 'json' | 'yaml' | 'name', list: readonly ObjectView[], owner: string, single: boolean): string {
  if (format === 'name') return list.map((v) => `${infoOf(v.status.kind).resource}/${v.status.name}\n`).join('');
  const items = list.map((v) => kubeObject(v, owner));
  const doc = single && items.length === 1 ? items[0] : { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items };
  return format === 'json' ? JSON.stringify(doc, null, 2) + '\n' : stringify(doc);
}
