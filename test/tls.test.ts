/**
 * ssl: remotes against a real ovsdb-server listening on pssl:, with a PKI
 * made by openssl in a temp dir: the client connects and transacts with the
 * files the OVN tools take (--private-key, --certificate, --ca-cert), the
 * row is visible to ovsdb-client / ovn-nbctl over ssl, and certificates from
 * another CA are refused.
 */
import t from 'tap';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { callDaemon } from '../src/cli/daemon-client.js';
import path from 'node:path';
import { OvsdbClient } from '../src/ovsdb/client.js';
import { ConnectionClosedError } from '../src/ovsdb/errors.js';
import { ops, where } from '../src/ovsdb/operations.js';
import type { TlsFiles } from '../src/ovsdb/transport.js';
import { findBinary, isAlive, run } from '../tools/sandbox-lib.js';
import { parseJsonDump } from './helpers/sandbox.js';
import { spawnOvsdbServer } from './helpers/ovsdb-server.js';
import { catchAsync, tempDir, waitFor } from './helpers/util.js';

const NB = 'OVN_Northbound';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A CA, and certificates signed by it, made with openssl. */
async function makePki(dir: string) {
  const openssl = await findBinary('openssl');
  const cnf = path.join(dir, 'ca.cnf');
  await writeFile(
    cnf,
    ['[req]', 'distinguished_name=dn', '[dn]', '[v3_ca]', 'basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign', 'subjectKeyIdentifier=hash', ''].join('\n'),
  );
  let serial = 1;
  const f = (name: string) => path.join(dir, name);
  async function ca(name: string): Promise<{ key: string; cert: string }> {
    const key = f(`${name}-key.pem`);
    const cert = f(`${name}-cert.pem`);
    await run(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`, '-config', cnf, '-extensions', 'v3_ca']);
    return { key, cert };
  }
  async function leaf(name: string, by: { key: string; cert: string }): Promise<TlsFiles> {
    const key = f(`${name}-key.pem`);
    const csr = f(`${name}.csr`);
    const cert = f(`${name}-cert.pem`);
    await run(openssl, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
    await run(openssl, ['x509', '-req', '-in', csr, '-CA', by.cert, '-CAkey', by.key, '-set_serial', String(serial++), '-out', cert, '-days', '2']);
    return { privateKey: key, certificate: cert, caCert: by.cert };
  }
  const ca1 = await ca('ca1');
  const ca2 = await ca('ca2');
  return {
    ca1,
    ca2,
    server: await leaf('server', ca1),
    client: await leaf('client', ca1),
    /** Signed by the other CA (but trusting the server's CA). */
    rogue: { ...(await leaf('rogue', ca2)), caCert: ca1.cert },
  };
}

t.test('ssl: a real ovsdb-server on pssl:', async (t) => {
  const dir = await tempDir(t, 'natgw-tls-', 'TLS test files and server log');
  const pki = await makePki(dir);

  const server = await spawnOvsdbServer(t, {
    dir,
    remotes: ['pssl:0:127.0.0.1'],
    extraArgs: [`--private-key=${pki.server.privateKey}`, `--certificate=${pki.server.certificate}`, `--ca-cert=${pki.server.caCert}`],
  });
  const { pid, log } = server;

  // port 0: ovsdb-server picks a free port and logs it
  const port = await until('ovsdb-server to listen', async () => {
    const m = /listening on port (\d+)/.exec(await readFile(log, 'utf8').catch(() => ''));
    return m ? Number(m[1]) : undefined;
  });
  const remote = `ssl:127.0.0.1:${port}`;
  t.comment(`ovsdb-server pid ${pid} on ${remote}`);

  const sslArgs = (f: TlsFiles) => [`--private-key=${f.privateKey}`, `--certificate=${f.certificate}`, `--ca-cert=${f.caCert}`];

  t.test('a client with certificates from the CA connects and transacts', async (t) => {
    const client = new OvsdbClient({ remote, database: NB, tls: pki.client, reconnect: false, requestTimeoutMs: 10_000 });
    t.teardown(() => client.close());
    await client.connect(20_000);
    t.ok(client.connected);
    t.equal(client.remote, remote);
    t.ok((await client.listDbs()).includes(NB));
    const [res] = await client.transact([ops.insert('Logical_Router', { name: 'tls-r1', external_ids: { via: 'ssl' } })]);
    t.match(res.uuid, /^[0-9a-f-]{36}$/);

    const dump = parseJsonDump(
      (await run(await findBinary('ovsdb-client'), [...sslArgs(pki.client), '--timeout=20', '-f', 'json', 'dump', remote, NB, 'Logical_Router', '_uuid', 'name'])).stdout,
    );
    t.strictSame(dump.Logical_Router, [{ _uuid: ['uuid', res.uuid], name: 'tls-r1' }], 'ovsdb-client over ssl sees the row');
    const nbctl = await findBinary('ovn-nbctl');
    const lr = await run(nbctl, [`--db=${remote}`, '-p', pki.client.privateKey, '-c', pki.client.certificate, '-C', pki.client.caCert, '--timeout=20', 'get', 'Logical_Router', 'tls-r1', 'external_ids']);
    t.equal(lr.stdout.trim(), '{via=ssl}', 'ovn-nbctl over ssl sees the row');

    const [sel] = await client.transact([ops.select('Logical_Router', [where.eq('name', 'tls-r1')], ['name'])]);
    t.strictSame(sel.rows, [{ name: 'tls-r1' }]);
  });

  t.test('a client certificate from another CA is refused by the server', async (t) => {
    const logBefore = await readFile(log, 'utf8');
    const client = new OvsdbClient({ remote, database: NB, tls: pki.rogue, reconnect: false, requestTimeoutMs: 10_000, connectTimeoutMs: 10_000 });
    t.teardown(() => client.close());
    const e = await catchAsync(client.connect(20_000));
    t.type(e, ConnectionClosedError, 'connect rejects');
    t.match((e as Error).message, /could not connect to any remote/);
    t.notOk(client.connected);
    // the server may write its log line after the client has seen the refusal
    let newLog = '';
    await waitFor(async () => /certificate verify failed/.test((newLog = (await readFile(log, 'utf8')).slice(logBefore.length))));
    t.match(newLog, /certificate verify failed/, 'the server logged why it refused');

    // the same refusal for the OVN tools with the same files
    const tool = await catchAsync(run(await findBinary('ovsdb-client'), [...sslArgs(pki.rogue), '--timeout=10', 'list-dbs', remote], { timeoutMs: 20_000 }));
    t.type(tool, Error, 'ovsdb-client with the rogue certificate fails too');
  });

  t.test('a server certificate the client does not trust is refused by the client', async (t) => {
    // a certificate the server accepts, but a CA file that does not vouch for the server
    const client = new OvsdbClient({ remote, database: NB, tls: { ...pki.client, caCert: pki.ca2.cert }, reconnect: false, requestTimeoutMs: 10_000 });
    t.teardown(() => client.close());
    const e = await catchAsync(client.connect(20_000));
    t.type(e, ConnectionClosedError, 'connect rejects');
    t.notOk(client.connected);
  });

  t.test('ovn-natgwd over ssl, its TLS files given with the OVN tools\' letters (-p, -c, -C)', async (t) => {
    const manifests = path.join(dir, 'manifests.d');
    await mkdir(manifests);
    await writeFile(path.join(manifests, 'vpc.yaml'), 'apiVersion: kubeovn.io/v1\nkind: Vpc\nmetadata: {name: tls-vpc}\nspec: {}\n');
    const sock = path.join(dir, 'natgwd.ctl');
    const BIN = fileURLToPath(new URL('../bin/ovn-natgwd.js', import.meta.url));
    const d = spawn(process.execPath, [BIN, '--db', remote, '-p', pki.client.privateKey, '-c', pki.client.certificate, '-C', pki.client.caCert, '--manifests', manifests, '--socket', sock, '--config', '/dev/null', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    d.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    t.teardown(() => void d.kill('SIGKILL'));
    const ready = await waitFor(async () => ((await callDaemon(sock, 'status').catch(() => ({}))) as { ready?: boolean }).ready === true, 30_000);
    t.ok(ready, `the daemon is ready on NB over ssl (${err.trim().split('\n').pop() ?? ''})`);
    const nbctl = await findBinary('ovn-nbctl');
    const lr = await run(nbctl, [`--db=${remote}`, '-p', pki.client.privateKey, '-c', pki.client.certificate, '-C', pki.client.caCert, '--timeout=20', '--bare', '--columns=name', 'find', 'Logical_Router', 'name=tls-vpc']);
    t.equal(lr.stdout.trim(), 'tls-vpc', "ovn-nbctl over ssl: the manifest's router is in NB");
    d.kill('SIGTERM');
    t.equal(await new Promise((r) => d.once('exit', (code) => r(code))), 0, 'SIGTERM: exit 0');
  });

  t.test('stop the server by its pid', async (t) => {
    t.ok(await isAlive(pid), 'still running after the refused clients');
    await server.stop();
    t.notOk(await isAlive(pid), `ovsdb-server ${pid} is gone`);
  });
});
