/**
 * ovn-natgwd's Prometheus metrics (prom-client: the maintained Node client,
 * with the text format and histograms we would otherwise write by hand).
 * Served by the socket's `metrics` method and, when configured, an HTTP
 * `/metrics` listener (loopback unless a host is given).
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: 'ovn_natgw_reconciles_total', help: 'plans of the manifest directory, by what asked for them', labelNames: ['reason'], registers: [this.registry] });
  readonly transactions = new Counter({ name: 'ovn_natgw_transactions_total', help: 'NB transactions that wrote, by what asked for them', labelNames: ['reason'], registers: [this.registry] });
  readonly driftRepairs = new Counter({ name: 'ovn_natgw_drift_repairs_total', help: 'owned rows another writer changed, put back', registers: [this.registry] });
  readonly refusals = new Counter({ name: 'ovn_natgw_manifest_refusals_total', help: 'directory reads refused (unreadable, empty, or an object refused): NB kept', registers: [this.registry] });
  readonly errors = new Counter({ name: 'ovn_natgw_errors_total', help: 'reconciles and requests that failed', registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'ovn_natgw_apply_seconds',
    help: 'time of an apply: plan, transaction, the replica showing it',
    labelNames: ['reason'],
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });
  readonly objects = new Gauge({ name: 'ovn_natgw_objects', help: 'objects of the manifest directory as last applied, by kind and readiness (ready: rows in NB and a gateway chassis to leave by)', labelNames: ['kind', 'ready'], registers: [this.registry] });
  readonly conflicts = new Counter({ name: 'ovn_natgw_conflicts_total', help: 'transactions refused because another writer changed what the plan read (planned again and retried)', registers: [this.registry] });
  readonly reconnects = new Counter({ name: 'ovn_natgw_reconnects_total', help: 'database sessions made again after one was lost', labelNames: ['db'], registers: [this.registry] });
  readonly lag = new Gauge({
    name: 'ovn_natgw_replica_lag_seconds',
    help: 'the last catch-up probe: time until the replica was known to hold every change committed before it (one echo behind the queued updates), every 5 s',
    labelNames: ['db'],
    registers: [this.registry],
  });
  readonly leader = new Gauge({ name: 'ovn_natgw_leader', help: '1 while this daemon holds the leader lock (or none is configured) and writes; 0 while it stands by', registers: [this.registry] });
  readonly ready = new Gauge({ name: 'ovn_natgw_ready', help: '1 once the replicas are complete and the first reconcile is done', registers: [this.registry] });
  readonly connected = new Gauge({ name: 'ovn_natgw_connected', help: '1 while the database session is up', labelNames: ['db'], registers: [this.registry] });
  readonly rows = new Gauge({ name: 'ovn_natgw_replica_rows', help: 'rows in the NB replica, by table', labelNames: ['table'], registers: [this.registry] });
  readonly livenessRtt = new Histogram({
    name: 'ovn_natgw_liveness_ping_seconds',
    help: "the leader's pings of the node locks: time until the node's daemon stole its lock back",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
    registers: [this.registry],
  });
  readonly failovers = new Counter({ name: 'ovn_natgw_failovers_total', help: 'failovers written, by cause', labelNames: ['cause'], registers: [this.registry] });
  readonly staleBfd = new Counter({ name: 'ovn_natgw_bfd_stale_total', help: 'BFD sessions found up while their port is bound to no chassis or a dead one (ovn-org/ovn#320), by what was done: withdrawn (SB status set down) or reported', labelNames: ['action'], registers: [this.registry] });
  readonly nodeHealthy = new Gauge({ name: 'ovn_natgw_node_healthy', help: "1 while this node's own health checks pass (its node lock held); 0 while one fails", registers: [this.registry] });
  private server: Server | undefined;

  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Serves GET /metrics on host:port (host default 127.0.0.1); resolves with the port bound. */
  async listen(spec: string, refresh: () => void): Promise<number> {
    const m = /^(?:(.*):)?(\d+)$/.exec(spec);
    if (!m) throw new Error(`metrics: must be PORT or HOST:PORT, got "${spec}"`);
    const host = m[1] || '127.0.0.1';
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics\n');
        return;
      }
      refresh();
      void this.text().then((t) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(t));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(m[2]), host, () => resolve());
    });
    return (server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
