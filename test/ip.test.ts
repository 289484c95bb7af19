/**
 * IP/CIDR utilities (src/nat/ip.ts): strict parsing, RFC 5952 canonical text,
 * CIDR arithmetic and Kube-OVN "a..b" ranges. Pure, no server.
 */
import t from 'tap';
import {
  cidrContains,
  cidrFirstHost,
  cidrLastHost,
  cidrOverlaps,
  familyOf,
  formatIp,
  parseCidr,
  parseIp,
  parseIpOrCidr,
  parseIpRange,
  type Cidr,
  type Ip,
} from '../src/nat/ip.js';

function ip(s: string): Ip {
  const v = parseIp(s);
  if (v === undefined) throw new Error(`test setup: ${s} is not an IP`);
  return v;
}

function cidr(s: string, strict = true): Cidr {
  const v = parseCidr(s, { strict });
  if (v === undefined) throw new Error(`test setup: ${s} is not a CIDR`);
  return v;
}

t.test('parseIp: IPv4', async (t) => {
  t.same(parseIp('10.0.0.1'), { family: 4, value: 0x0a000001n, text: '10.0.0.1' });
  t.same(parseIp('0.0.0.0'), { family: 4, value: 0n, text: '0.0.0.0' });
  t.same(parseIp('255.255.255.255'), { family: 4, value: 0xffffffffn, text: '255.255.255.255' });
  t.equal(ip('192.168.0.10').text, '192.168.0.10');
  for (const bad of [
    '01.2.3.4', // leading zero
    '1.2.3.04',
    '1.2.3.00',
    '1.2.3.256',
    '1.2.3.300',
    '1.2.3',
    '1.2.3.4.5',
    '1.2.3.',
    '.1.2.3',
    '1..2.3',
    '1.2.3.4/32', // no prefix
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2.3.-4',
    '1.2.3.+4',
    '1.2.3.0x1',
    '1.2.3.a',
    '',
    '1234',
  ]) {
    t.equal(parseIp(bad), undefined, JSON.stringify(bad));
  }
});

t.test('parseIp: IPv6 and RFC 5952 canonical text', async (t) => {
  const cases: [string, string][] = [
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['2001:DB8::1', '2001:db8::1'], // lower case
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // leading zeros dropped
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // equal runs: the first is compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run is compressed
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // "::" for one group is expanded
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['fe80::200:ff:fe56:40e5', 'fe80::200:ff:fe56:40e5'],
    ['FD00:0:0:0::ABCD', 'fd00::abcd'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['0:0:1:0:0:0:0:0', '0:0:1::'],
    ['0:0:0:1:0:0:0:0', '0:0:0:1::'], // runs of 3 and 4: the longer (later) one wins
    ['0:0:0:0:1:0:0:0', '::1:0:0:0'], // runs of 4 and 3: the longer (earlier) one wins
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    // IPv4 embedded / mapped
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
    ['::FFFF:a00:1', '::ffff:10.0.0.1'], // IPv4-mapped: mixed notation (RFC 5952 section 5)
    ['0:0:0:0:0:ffff:192.168.0.1', '::ffff:192.168.0.1'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'], // not mapped: plain hex
    ['::1.2.3.4', '::102:304'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
  ];
  for (const [input, text] of cases) {
    const v = parseIp(input);
    t.equal(v?.family, 6, `${input} family`);
    t.equal(v?.text, text, input);
  }
  t.equal(ip('::').value, 0n);
  t.equal(ip('::1').value, 1n);
  t.equal(ip('1::').value, 1n << 112n);
  t.equal(ip('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff').value, (1n << 128n) - 1n);

  for (const bad of [
    ':',
    ':::',
    '1:::2',
    '1::2::3', // two "::"
    ':1::',
    '::1:',
    '1:2:3:4:5:6:7', // too few groups
    '1:2:3:4:5:6:7:8:9', // too many
    '1:2:3:4:5:6:7:8::', // "::" with 8 groups
    '::1:2:3:4:5:6:7:8',
    '12345::',
    'g::',
    'fe80::1%eth0', // zone id
    '::1/128', // prefix
    '::ffff:1.2.3.256',
    '::ffff:01.2.3.4',
    '::1.2.3.4:1', // IPv4 only at the end
    '1.2.3.4::',
    '1:2:3:4:5:6:7:1.2.3.4', // 7 groups + IPv4 = 9
    ' ::1',
    '[::1]',
  ]) {
    t.equal(parseIp(bad), undefined, JSON.stringify(bad));
  }
});

t.test('formatIp', async (t) => {
  t.equal(formatIp(4, 0x0a000001n), '10.0.0.1');
  t.equal(formatIp(4, 0n), '0.0.0.0');
  t.equal(formatIp(6, 0n), '::');
  t.equal(formatIp(6, 1n), '::1');
  t.equal(formatIp(6, 0xffff0a000001n), '::ffff:10.0.0.1');
  t.equal(formatIp(6, 0x20010db8n << 96n), '2001:db8::');
  // round trip through text
  for (const s of ['10.5.204.254', '2001:db8::1:0:0:1', '::ffff:1.2.3.4', 'fd00:10:16::1']) {
    const v = ip(s);
    t.equal(formatIp(v.family, v.value), s);
  }
});

t.test('parseCidr', async (t) => {
  t.same(parseCidr('10.0.0.0/24'), { family: 4, network: 0x0a000000n, prefix: 24, text: '10.0.0.0/24' });
  t.same(parseCidr('0.0.0.0/0'), { family: 4, network: 0n, prefix: 0, text: '0.0.0.0/0' });
  t.same(parseCidr('10.0.0.5/32'), { family: 4, network: 0x0a000005n, prefix: 32, text: '10.0.0.5/32' });
  t.equal(parseCidr('::/0')?.text, '::/0');
  t.equal(parseCidr('::1/128')?.text, '::1/128');
  t.equal(parseCidr('FD00:0::/64')?.text, 'fd00::/64');
  t.equal(parseCidr('2001:db8:0:0:1::/80')?.text, '2001:db8:0:0:1::/80');

  // host bits set: refused when strict (the default), masked otherwise
  t.equal(parseCidr('10.0.0.5/24'), undefined);
  t.equal(parseCidr('10.0.0.5/24', { strict: true }), undefined);
  t.equal(parseCidr('10.0.0.5/24', { strict: false })?.text, '10.0.0.0/24');
  t.equal(parseCidr('10.5.204.254/24', { strict: false })?.text, '10.5.204.0/24');
  t.equal(parseCidr('1.2.3.4/0', { strict: false })?.text, '0.0.0.0/0');
  t.equal(parseCidr('1.2.3.4/0'), undefined);
  t.equal(parseCidr('fd00::1/64'), undefined);
  t.equal(parseCidr('fd00::1/64', { strict: false })?.text, 'fd00::/64');
  t.equal(parseCidr('fd00::1/127', { strict: false })?.text, 'fd00::/127');

  for (const bad of [
    '10.0.0.0', // no prefix
    '10.0.0.0/',
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/024', // leading zero in the prefix
    '10.0.0.0/-1',
    '10.0.0.0/+8',
    '10.0.0.0/8/8',
    '10.0.0.0/ 8',
    '010.0.0.0/8',
    '/8',
    'fe80::%eth0/64',
  ]) {
    t.equal(parseCidr(bad), undefined, bad);
    t.equal(parseCidr(bad, { strict: false }), undefined, `${bad} (not strict)`);
  }
});

t.test('parseIpOrCidr', async (t) => {
  t.same(parseIpOrCidr('10.0.0.5'), { ip: ip('10.0.0.5'), prefix: 32, family: 4 });
  t.same(parseIpOrCidr('10.0.0.0/24'), { ip: ip('10.0.0.0'), prefix: 24, family: 4 });
  // the address as written: host bits are kept
  t.same(parseIpOrCidr('10.5.204.254/24'), { ip: ip('10.5.204.254'), prefix: 24, family: 4 });
  t.same(parseIpOrCidr('FD00::1'), { ip: ip('fd00::1'), prefix: 128, family: 6 });
  t.same(parseIpOrCidr('fd00::/64'), { ip: ip('fd00::'), prefix: 64, family: 6 });
  for (const bad of ['10.0.0.0/33', '10.0.0.0/', '01.0.0.0/8', '1.2.3', 'x', '', '::/129']) {
    t.equal(parseIpOrCidr(bad), undefined, bad);
  }
});

t.test('cidrContains', async (t) => {
  const cases: [string, string, boolean][] = [
    ['10.0.0.0/24', '10.0.0.0', true],
    ['10.0.0.0/24', '10.0.0.255', true],
    ['10.0.0.0/24', '10.0.1.0', false],
    ['10.0.0.0/24', '9.255.255.255', false],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['10.0.0.5/32', '10.0.0.5', true],
    ['10.0.0.5/32', '10.0.0.6', false],
    ['fd00::/64', 'fd00::ffff:1', true],
    ['fd00::/64', 'fd00:0:0:1::', false],
    ['::/0', 'ffff::', true],
    // family mismatch, even where the bits would match
    ['0.0.0.0/0', '::', false],
    ['::/0', '0.0.0.0', false],
    ['::/96', '10.0.0.1', false],
  ];
  for (const [c, a, want] of cases) t.equal(cidrContains(cidr(c), ip(a)), want, `${c} contains ${a}`);
});

t.test('cidrOverlaps', async (t) => {
  const cases: [string, string, boolean][] = [
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.0.0.0/24', '10.0.0.0/24', true],
    ['10.0.0.0/24', '10.0.1.0/24', false],
    ['10.0.0.0/25', '10.0.0.128/25', false],
    ['0.0.0.0/0', '192.168.0.1/32', true],
    ['fd00::/48', 'fd00:0:0:1::/64', true],
    ['fd00::/64', 'fd00:0:0:1::/64', false],
    ['0.0.0.0/0', '::/0', false],
  ];
  for (const [a, b, want] of cases) {
    t.equal(cidrOverlaps(cidr(a), cidr(b)), want, `${a} ~ ${b}`);
    t.equal(cidrOverlaps(cidr(b), cidr(a)), want, `${b} ~ ${a}`);
  }
});

t.test('cidrFirstHost / cidrLastHost', async (t) => {
  const hosts = (s: string) => [cidrFirstHost(cidr(s)).text, cidrLastHost(cidr(s)).text];
  t.same(hosts('10.0.0.0/24'), ['10.0.0.1', '10.0.0.254']);
  t.same(hosts('192.168.0.0/24'), ['192.168.0.1', '192.168.0.254']);
  t.same(hosts('10.0.0.0/30'), ['10.0.0.1', '10.0.0.2']);
  t.same(hosts('10.0.0.0/31'), ['10.0.0.0', '10.0.0.1']);
  t.same(hosts('10.0.0.7/32'), ['10.0.0.7', '10.0.0.7']);
  t.same(hosts('0.0.0.0/0'), ['0.0.0.1', '255.255.255.254']);
  t.same(hosts('fd00::/64'), ['fd00::1', 'fd00::ffff:ffff:ffff:ffff']);
  t.same(hosts('fd00::/127'), ['fd00::', 'fd00::1']);
  t.same(hosts('fd00::5/128'), ['fd00::5', 'fd00::5']);
  t.same(hosts('::/0'), ['::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']);
  t.same(cidrFirstHost(cidr('10.0.0.0/24')), ip('10.0.0.1'));
});

t.test('parseIpRange', async (t) => {
  t.same(parseIpRange('10.5.204.1..10.5.204.100'), {
    family: 4,
    first: ip('10.5.204.1').value,
    last: ip('10.5.204.100').value,
    text: '10.5.204.1..10.5.204.100',
  });
  t.same(parseIpRange('10.0.0.1'), { family: 4, first: 0x0a000001n, last: 0x0a000001n, text: '10.0.0.1' });
  t.same(parseIpRange('10.0.0.1..10.0.0.1'), { family: 4, first: 0x0a000001n, last: 0x0a000001n, text: '10.0.0.1..10.0.0.1' });
  t.equal(parseIpRange('FD00::1..FD00::00ff')?.text, 'fd00::1..fd00::ff');
  t.equal(parseIpRange('fd00::a')?.family, 6);
  for (const bad of [
    '10.0.0.1..fd00::1', // mixed families
    'fd00::1..10.0.0.1',
    '10.0.0.10..10.0.0.1', // first > last
    '10.0.0.1..',
    '..10.0.0.1',
    '10.0.0.1..10.0.0.2..10.0.0.3',
    '10.0.0.1...10.0.0.2',
    '10.0.0.1-10.0.0.2',
    '10.0.0.0/24',
    '01.0.0.1..10.0.0.2',
    '',
  ]) {
    t.equal(parseIpRange(bad), undefined, bad);
  }
});

t.test('familyOf', async (t) => {
  t.equal(familyOf('10.0.0.1'), 4);
  t.equal(familyOf('10.0.0.0/8'), 4);
  t.equal(familyOf('10.0.0.1/8'), 4); // host bits do not matter here
  t.equal(familyOf('::'), 6);
  t.equal(familyOf('fd00::/64'), 6);
  t.equal(familyOf('::ffff:1.2.3.4'), 6);
  t.equal(familyOf('1.2.3.256'), undefined);
  t.equal(familyOf('10.0.0.0/33'), undefined);
  t.equal(familyOf('vpc1'), undefined);
  t.equal(familyOf(''), undefined);
});
