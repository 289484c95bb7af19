/**
 * The daemon's view of its manifest directory (src/daemon/directory.ts), on
 * files in a temp dir, no server: a change reads only the files that
 * changed and says which objects were put and which went; an object moved
 * between files is neither; one defined twice, or a directory left empty,
 * is refused with nothing taken; a stale object is read again from its file.
 */
import t from 'tap';
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ManifestDirectory } from '../src/daemon/directory.js';
import { ManifestError } from '../src/nat/manifest.js';
import { idOf } from '../src/nat/rows.js';
import { tempDir } from './helpers/util.js';

const K = 'apiVersion: kubeovn.io/v1\n';
const eip = (name: string, ip: string) => `${K}kind: OvnEip\nmetadata: {name: ${name}}\nspec: {externalSubnet: external, type: nat, v4Ip: ${ip}}\n`;

t.test('changes: per file, put and removed; a move is no change', async (t) => {
  const dir = await tempDir(t, 'natgw-dir-');
  await writeFile(path.join(dir, 'a.yaml'), [eip('e1', '10.0.0.1'), eip('e2', '10.0.0.2')].join('---\n'));
  await writeFile(path.join(dir, 'b.yaml'), eip('e3', '10.0.0.3'));
  await writeFile(path.join(dir, 'notes.txt'), 'not a manifest');
  const d = new ManifestDirectory(dir);
  const all = await d.readAll();
  t.same(all.manifest.objects.map(idOf).sort(), ['OvnEip/e1', 'OvnEip/e2', 'OvnEip/e3'], 'readAll: every object');
  all.commit();
  t.same([...d.objects.keys()].sort(), ['OvnEip/e1', 'OvnEip/e2', 'OvnEip/e3']);
  t.equal(d.objects.get('OvnEip/e3')?.file, path.join(dir, 'b.yaml'), 'each object with its file');

  let c = await d.changes();
  t.same([c.put, c.remove], [[], []], 'nothing changed: nothing put or removed');

  // e2 changes, e1 leaves a.yaml
  await writeFile(path.join(dir, 'a.yaml'), eip('e2', '10.0.0.22'));
  c = await d.changes();
  t.same(c.put.map(idOf), ['OvnEip/e2'], 'the changed object is put');
  t.same(c.remove, ['OvnEip/e1'], 'the one gone from its file is removed');
  c.commit();
  t.notOk(d.objects.has('OvnEip/e1'));

  // e3 moves from b.yaml to c.yaml, unchanged
  await rm(path.join(dir, 'b.yaml'));
  await writeFile(path.join(dir, 'c.yaml'), eip('e3', '10.0.0.3'));
  c = await d.changes();
  t.same([c.put, c.remove], [[], []], 'an object moved to another file, as it was: no change');
  c.commit();
  t.equal(d.objects.get('OvnEip/e3')?.file, path.join(dir, 'c.yaml'), 'now in its new file');

  // only the files named are looked at
  await writeFile(path.join(dir, 'a.yaml'), eip('e2', '10.0.0.23'));
  c = await d.changes(new Set(['c.yaml']));
  t.same(c.put, [], 'a file not named is not read');
  c = await d.changes(new Set(['a.yaml']));
  t.same(c.put.map(idOf), ['OvnEip/e2'], 'the file named is');
  c.commit();

  t.same((await d.read(['OvnEip/e3', 'OvnEip/nope'])).map(idOf), ['OvnEip/e3'], 'read: an object again from its file (one not there: left out)');
});

t.test('refused, nothing taken: an object in two files, a directory without objects, a bad file', async (t) => {
  const dir = await tempDir(t, 'natgw-dir-');
  await writeFile(path.join(dir, 'a.yaml'), eip('e1', '10.0.0.1'));
  const d = new ManifestDirectory(dir);
  (await d.readAll()).commit();
  await writeFile(path.join(dir, 'b.yaml'), eip('e1', '10.0.0.9'));
  const twice = await d.changes().catch((e: unknown) => e);
  t.type(twice, ManifestError);
  t.match((twice as Error).message, /OvnEip e1: defined in .*a\.yaml and in .*b\.yaml/, 'names both files');
  await rm(path.join(dir, 'b.yaml'));
  await writeFile(path.join(dir, 'a.yaml'), `${K}kind: OvnEip\nmetadata: {name: e1}\nspec: {externalSubnet: external, v4Ip: 10.0.0.300}\n`);
  const bad = await d.changes().catch((e: unknown) => e);
  t.type(bad, ManifestError);
  t.match((bad as Error).message, /a\.yaml.*v4Ip/s, 'a bad file: its problem, with file and field');
  t.equal(d.objects.get('OvnEip/e1')?.key !== undefined, true, 'the state taken before stays');
  await rename(path.join(dir, 'a.yaml'), path.join(dir, 'a.yaml.off'));
  await t.rejects(d.changes(), /no objects in the directory/, 'no objects left: refused');
  t.ok(d.objects.has('OvnEip/e1'), 'and nothing taken');
});
