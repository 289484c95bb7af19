// The Python peers the benchmark measures against, and what each needs: a
// peer whose module is missing is skipped with a line saying what to install
// (`bash tools/ensure-ovn.sh --bench` installs them as root), not failed.
import { execFile } from 'node:child_process';

export const PEER_NEEDS: Readonly<Record<string, { module: string; pkg: string }>> = {
  ovsdbapp: { module: 'ovsdbapp', pkg: 'python3-ovsdbapp' },
  'python-idl': { module: 'ovs.db.idl', pkg: 'python3-openvswitch' },
};

/** The Debian package a peer needs and `python` lacks (undefined: it can run, or it is no Python peer). */
export function missingPeer(name: string, python: string, needs = PEER_NEEDS): Promise<string | undefined> {
  const need = needs[name];
  if (!need) return Promise.resolve(undefined);
  return new Promise((resolve) => execFile(python, ['-c', `import ${need.module}`], { timeout: 30_000 }, (err) => resolve(err ? need.pkg : undefined)));
}

/** The bench line of a skipped peer, and the note on stderr that says what to install. */
export function skippedPeerLines(scenario: string, name: string, python: string, pkg: string, needs = PEER_NEEDS): { figure: string; note: string } {
  return {
    figure: `bench ${scenario} ${name} skipped=missing-peer install=${pkg}`,
    note: `[bench] ${scenario} ${name}: skipped, ${python} cannot import ${needs[name].module}: install ${pkg} (bash tools/ensure-ovn.sh --bench does, as root)`,
  };
}
