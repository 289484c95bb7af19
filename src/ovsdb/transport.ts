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
    if (!rest) throw new RemoteError(`remote "${t}": unix: needs a socket path`);
    return { kind, path: rest, text: t };
  }
  if (kind === 'tcp' || kind === 'ssl') {
    const bad = (why: string) => new RemoteError(`remote "${t}": ${why} (expected ${kind}:IP:PORT or ${kind}:[IPv6]:PORT)`);
    let host: string;
    let portText: string;
    if (rest.startsWith('[')) {
      const close = rest.indexOf(']');
      if (close < 0) throw bad('no "]" after the IPv6 address');
      host = rest.slice(1, close);
      if (rest.length === close + 1) throw bad('missing port');
      if (rest[close + 1] !== ':') throw bad(`unexpected "${rest.slice(close + 1)}" after the IPv6 address`);
      portText = rest.slice(close + 2);
    } else {
      const last = rest.lastIndexOf(':');
      if (last < 0) throw bad('missing port');
      host = rest.slice(0, last);
      portText = rest.slice(last + 1);
      // "tcp:2001:db8::1" would otherwise read as host "2001:db8:", port 1
      if (host.includes(':')) throw bad('an IPv6 address must be in brackets');
    }
    if (!host) throw bad('missing host');
    if (!portText) throw bad('missing port');
    // digits only: Number() would also take "0x10", "1e3" or " 6641"
    if (!/^[0-9]+$/.test(portText)) throw bad(`port "${portText}" is not a number`);
    const port = Number(portText);
    if (port < 1 || port > 65535) throw bad(`port ${portText} out of range 1-65535`);
    return { kind, host, port, text: t };
  }
  throw new RemoteError(`remote "${t}": ${colon < 0 ? 'no method' : `unknown method "${kind}"`} (expected tcp:, ssl: or unix:)`);
}

/** Parse a comma-separated list of remotes, as OVN_NB_DB holds. */
export function parseRemotes(text: string): Remote[] {
  if (!text.trim()) throw new RemoteError('no remote given');
  return text.split(',').map((s, i) => {
    if (!s.trim()) throw new RemoteError(`remote list "${text}": element ${i + 1} is empty (remotes are separated by single commas)`);
    return parseRemote(s);
  });
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

/**
 * Bytes a plain (unix or tcp) socket reads at once, into one buffer per
 * connection that every read reuses: a 50 MB monitor reply then arrives in
 * ~230 reads instead of ~780 fresh 64 KiB Buffers, with no stream machinery
 * per read and less for the GC.
 */
export const READ_BUFFER_BYTES = 256 * 1024;

/** A connected stream and the way to read it. */
export interface Link {
  readonly sock: net.Socket;
  /**
   * Deliver what is read to `onData`, from now on (what arrived before is
   * delivered first). A chunk is valid only during the call: it may be the
   * reused read buffer, so a reader copies whatever it keeps.
   */
  read(onData: (chunk: Buffer) => void): void;
}

/** What went wrong on a socket, with its cause in words ("connect ECONNREFUSED 127.0.0.1:6641 (connection refused)"). */
export function describeSocketError(e: Error & { code?: string }): string {
  const words: Record<string, string> = {
    ENOENT: 'no such socket',
    ECONNREFUSED: 'connection refused',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ENOTSOCK: 'not a socket',
    ETIMEDOUT: 'timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ECONNRESET: 'connection reset by the server',
    EPIPE: 'connection closed by the server',
    ENOTFOUND: 'no such host',
  };
  const w = e.code ? words[e.code] : undefined;
  return w ? `${e.message} (${w})` : e.message;
}

/** Open a stream to the remote; resolves once connected (and, for ssl, the handshake is done). */
export function dial(remote: Remote, opts: { tls?: TlsFiles; timeoutMs: number }): Promise<Link> {
  return new Promise((resolve, reject) => {
    let sock: net.Socket;
    // plain sockets read into one reused buffer (net's onread); until a reader
    // is set, copies are queued
    let deliver: ((chunk: Buffer) => void) | undefined;
    let early: Buffer[] = [];
    const onread = {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback: (nread: number, buf: Buffer): boolean => {
        if (deliver) deliver(buf.subarray(0, nread));
        else early.push(Buffer.from(buf.subarray(0, nread)));
        return true; // false would stop reading; flow control uses pause()
      },
    };
    const link = (s: net.Socket): Link => ({
      sock: s,
      read(onData) {
        if (s instanceof tls.TLSSocket) {
          s.on('data', onData);
          return;
        }
        const queued = early;
        early = [];
        deliver = onData;
        for (const c of queued) onData(c);
      },
    });
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
      resolve(link(sock));
    };
    const onError = (e: Error) => fail(new Error(`${remote.text}: ${describeSocketError(e)}`));
    try {
      if (remote.kind === 'unix') {
        sock = net.connect({ path: remote.path, onread }, ok);
      } else if (remote.kind === 'tcp') {
        sock = net.connect({ host: remote.host, port: remote.port, onread }, ok);
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
