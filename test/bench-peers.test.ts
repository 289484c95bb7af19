/**
 * `npm run bench` on a machine without a Python peer's module skips that peer
 * with a line saying what to install, instead of failing the run: checked
 * with the machine's python3 against a module it lacks and one it has.
 */
import t from 'tap';
import { missingPeer, skippedPeerLines } from '../bench/peers.js';

const PY = '/usr/bin/python3';
const needs = { absent: { module: 'ovn_natgw_no_such_module', pkg: 'python3-no-such' }, present: { module: 'json', pkg: 'python3' } };

t.test('a peer whose module python cannot import is skipped, naming the package to install', async (t) => {
  t.equal(await missingPeer('absent', PY, needs), 'python3-no-such');
  t.equal(await missingPeer('present', PY, needs), undefined, 'one it can import runs');
  t.equal(await missingPeer('ovn-nbctl', PY, needs), undefined, 'not a Python peer');
  const l = skippedPeerLines('apply', 'absent', PY, 'python3-no-such', needs);
  t.equal(l.figure, 'bench apply absent skipped=missing-peer install=python3-no-such', 'one bench line');
  t.match(l.note, /cannot import ovn_natgw_no_such_module: install python3-no-such \(bash tools\/ensure-ovn\.sh --bench does, as root\)/);
});
