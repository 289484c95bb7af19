// Connecting to an OVSDB remote: "tcp:IP:PORT", "unix:PATH", "ssl:IP:PORT",
// with the TLS files the OVN tools take (--private-key, --certificate, --ca-cert).

import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import { RemoteError } from './errors.js';

export interface TlsFiles {
  /** PEM private key file (like --private-key). */
  privateKey: string;
  /** PEM certificate file (like --certificate). */
  certificate: string;
  /** PEM CA certificate file (like --ca-cert). */
  caCert: string;
}

export type Remote =
  | { kind: 'unix'; path: string; text: string }
  | { kind: 'tcp' | 'ssl'; host: string; port: number; text: string };

/** Parse one remote ("tcp:127.0.0.1:6641", "ssl:[::1]:6641", "unix:/run/ovn/ovnnb_db.sock"). */
export function parseRemote(text: string): Remote {
  const t = text.trim();
  const colon = t.indexOf(':');
  const kind = colon < 0 ? '' : t.slice(0, colon);
  const rest = t.slice(colon + 1);
  if (kind === 'unix') {
    if (!rest) throw new RemoteError(`remote "${text}": unix: needs a socket path`);
    return { kind, path: rest, text: t };
  }
  if (kind === 'tcp' || kind === 'ssl') {
    let host: string;
    let portText: string;
    if (rest.startsWith('[')) {
      const close = rest.indexOf(']');
      if (close < 0 || rest[close + 1] !== ':') throw new RemoteError(`remote "${text}": expected ${kind}:[IPv6]:PORT`);
      host = rest.slice(1, close);
      portText = rest.slice(close + 2);
    } else {
      const last = rest.lastIndexOf(':');
      if (last < 0) throw new RemoteError(`remote "${text}": expected ${kind}:IP:PORT`);
      host = rest.slice(0, last);
      portText = rest.slice(last + 1);
    }
    const port = Number(portText);
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RemoteError(`remote "${text}": bad host or port (expected ${kind}:IP:PORT with PORT 1-65535)`);
    }
    return { kind, host, port, text: t };
  }
  throw new RemoteError(`remote "${text}": unknown method "${kind}" (expected tcp:, ssl: or unix:)`);
}

/** Parse a comma-separated list of remotes, as OVN_NB_DB holds. */
export function parseRemotes(text: string): Remote[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(parseRemote);
  if (list.length === 0) throw new RemoteError('no remote given');
  return list;
}

function loadTls(files: TlsFiles): tls.SecureContextOptions {
  const read = (what: string, p: string) => {
    try {
      return fs.readFileSync(p);
    } catch (e) {
      throw new RemoteError(`cannot read ${what} "${p}": ${(e as Error).message}`);
    }
  };
  return { key: read('private key', files.privateKey), cert: read('certificate', files.certificate), ca: read('CA certificate', files.caCert) };
}

/** Open a stream to the remote; resolves once connected (and, for ssl, the handshake is done). */
export function dial(remote: Remote, opts: { tls?: TlsFiles; timeoutMs: number }): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let sock: net.Socket;
    const fail = (err: Error) => {
      clearTimeout(timer);
      sock?.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`${remote.text}: connect timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const ok = () => {
      clearTimeout(timer);
      sock.removeListener('error', onError);
      sock.setNoDelay?.(true);
      resolve(sock);
    };
    const onError = (e: Error) => fail(new Error(`${remote.text}: ${e.message}`));
    try {
      if (remote.kind === 'unix') {
        sock = net.connect({ path: remote.path }, ok);
      } else if (remote.kind === 'tcp') {
        sock = net.connect({ host: remote.host, port: remote.port }, ok);
      } else {
        if (!opts.tls) throw new RemoteError(`${remote.text}: ssl remotes need a private key, certificate and CA certificate`);
        const ctx = loadTls(opts.tls);
        // OVSDB peers are identified by their certificate chain to the CA, not by
        // host name (the OVN tools do not check names), so only the chain is verified.
        sock = tls.connect({ host: remote.host, port: remote.port, ...ctx, rejectUnauthorized: true, checkServerIdentity: () => undefined }, ok);
      }
    } catch (e) {
      clearTimeout(timer);
      reject(e);
      return;
    }
    sock.once('error', onError);
  });
}
