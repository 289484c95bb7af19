/**
 * The HA keys of ovn-natgwd's config (health checks, pings, hold-down,
 * failback): accepted as an operator writes them, refused naming the key
 * and the reason. And ovn-bridge-mappings as ovn-controller reads it.
 */
import t from 'tap';
import { ConfigError, parseConfigText } from '../src/daemon/config.js';
import { parseBridgeMappings } from '../src/ha/node-health.js';

t.test('accepted', async (t) => {
  const c = parseConfigText(
    'chassis: gw1\nfailback: preempt\npingMs: 200\nholdDownMs: 30000\nrequireNodeDaemons: true\nnodeAbsentMs: 15000\nnodeReconnectGraceMs: 20000\nhealth:\n  checks: [ovn-controller, bridge-mappings, uplink, ip-forward]\n  uplinks: [eth1]\n  providerNetworks: [physnet1]\n  ovnRundir: /var/run/ovn\n  ovsDb: unix:/var/run/openvswitch/db.sock\n  intervalMs: 250\n  controllerGraceMs: 5000\n',
    'f.yaml',
  );
  t.same(c, {
    chassis: 'gw1',
    failback: 'preempt',
    pingMs: 200,
    holdDownMs: 30000,
    requireNodeDaemons: true,
    nodeAbsentMs: 15000,
    nodeReconnectGraceMs: 20000,
    health: { checks: ['ovn-controller', 'bridge-mappings', 'uplink', 'ip-forward'], uplinks: ['eth1'], providerNetworks: ['physnet1'], ovnRundir: '/var/run/ovn', ovsDb: 'unix:/var/run/openvswitch/db.sock', intervalMs: 250, controllerGraceMs: 5000 },
  });
});

t.test('refused, naming the key and the reason', async (t) => {
  const refused = (text: string, msg: RegExp, what: string) => t.throws(() => parseConfigText(text, 'f.yaml'), { name: 'ConfigError', message: msg }, what);
  refused('health:\n  checks: [ovn-controler]\n', /f\.yaml: health\.checks: "ovn-controler": unknown check \(known: ovn-controller, ovs-vswitchd, bridge-mappings, uplink, ip-forward\)/, 'a misspelt check');
  refused('health:\n  checks: [uplink]\n', /health\.uplinks: the uplink check needs the uplink interfaces/, 'uplink without interfaces');
  refused('health:\n  interval: 5\n', /health\.interval: unknown key \(known: checks, ovnRundir, ovsRundir/, 'an unknown health key');
  refused('health:\n  ovsDb: tcp:1.2.3.4:6640\n', /health\.ovsDb: must be unix:PATH/, 'a remote Open_vSwitch');
  refused('health:\n  intervalMs: 10\n', /health\.intervalMs: must be an integer from 50 to 60000, got 10/, 'too often');
  refused('health: [ip-forward]\n', /health: must be a map/, 'a list');
  refused('failback: always\n', /failback: must be preempt or no-preempt, got "always"/, 'failback');
  refused('nodeAbsentMs: 10\n', /nodeAbsentMs: must be an integer from 100 to 3600000, got 10/, 'nodeAbsentMs');
  refused('nodeReconnectGraceMs: soon\n', /nodeReconnectGraceMs: must be an integer from 0 to 3600000, got "soon"/, 'nodeReconnectGraceMs');
  refused('pingMs: -1\n', /pingMs: must be an integer from 0 to 60000/, 'pingMs');
  t.ok(new ConfigError('x') instanceof Error);
});

t.test('ovn-bridge-mappings', async (t) => {
  t.same([...parseBridgeMappings('physnet1:br-phys, physnet2:br-ex')], [['physnet1', 'br-phys'], ['physnet2', 'br-ex']]);
  t.same([...parseBridgeMappings('')], []);
});
