import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Just enough X.509 to serve an admission webhook: a self-signed CA and serving certificates it signs, with
 * EC P-256 keys (small and fast). Node signs and verifies but cannot build a certificate, and the controller
 * image has no openssl, so the DER is written here (RFC 5280).
 */

// DER: tag, length, value.
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length = n < 0x80 ? Buffer.from([n]) : lengthBytes(n);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
function lengthBytes(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const sequence = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const explicit = (n: number, item: Buffer) => tlv(0xa0 + n, item);
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer) => tlv(0x03, Buffer.from([0]), b);
const boolTrue = () => tlv(0x01, Buffer.from([0xff]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0] & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [a * 40 + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5), to the second. */
function time(d: Date): Buffer {
  const s = d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(s.slice(2))) : tlv(0x18, Buffer.from(s));
}

const OID = {
  commonName: '2.5.4.3',
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

const name = (commonName: string) => sequence(set(sequence(oid(OID.commonName), utf8(commonName))));
const extension = (id: string, critical: boolean, value: Buffer) =>
  sequence(oid(id), ...(critical ? [boolTrue()] : []), octets(value));

/** keyUsage bits, numbered as in RFC 5280 (0 = digitalSignature, 5 = keyCertSign, 6 = cRLSign). */
function keyUsage(...usages: number[]): Buffer {
  let byte = 0;
  for (const u of usages) byte |= 0x80 >> u;
  const unused = Math.min(...[7, ...usages.map((u) => 7 - u)]);
  return tlv(0x03, Buffer.from([unused, byte]));
}

function subjectAltName(hosts: readonly string[]): Buffer {
  return sequence(
    ...hosts.map((h) => {
      if (isIP(h) === 4) return tlv(0x87, Buffer.from(h.split('.').map(Number)));
      if (isIP(h) === 6) return tlv(0x87, ipv6Bytes(h));
      return tlv(0x82, Buffer.from(h, 'ascii'));
    }),
  );
}
function ipv6Bytes(address: string): Buffer {
  const [head, tail = ''] = address.split('::') as [string, string?];
  const groups = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = address.includes('::') ? groups(tail) : [];
  const all = [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  return Buffer.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}

export interface CertificateRequest {
  commonName: string;
  /** DNS names and IP addresses the certificate is for (serving certificates). */
  hosts?: readonly string[];
  notBefore: Date;
  notAfter: Date;
  /** A CA certificate (may sign others) rather than a server's. */
  isCa: boolean;
}

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

/** The subject key identifier: SHA-1 of the public key's bits (RFC 5280 4.2.1.2, method 1). */
function keyIdentifier(key: KeyObject): Buffer {
  const spki = key.export({ type: 'spki', format: 'der' });
  // The BIT STRING is the last element of the SubjectPublicKeyInfo; for P-256 its 65 bytes close the DER.
  return createHash('sha1')
    .update(spki.subarray(spki.length - 65))
    .digest();
}

/** A new key pair and its certificate, signed by `issuer` (or by itself when absent). */
export function issueCertificate(request: CertificateRequest, issuer?: KeyPair): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = issuer ? createPrivateKey(issuer.keyPem) : privateKey;
  const signerPublic = issuer ? createPublicKey(issuer.keyPem) : publicKey;
  const algorithm = sequence(oid(OID.ecdsaWithSha256));
  const extensions = [
    extension(OID.basicConstraints, true, request.isCa ? sequence(boolTrue()) : sequence()),
    extension(OID.keyUsage, true, request.isCa ? keyUsage(0, 5, 6) : keyUsage(0)),
    ...(request.isCa ? [] : [extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth)))]),
    ...(request.hosts?.length ? [extension(OID.subjectAltName, false, subjectAltName(request.hosts))] : []),
    extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(publicKey))),
    extension(OID.authorityKeyIdentifier, false, sequence(tlv(0x80, keyIdentifier(signerPublic)))),
  ];
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    name(issuer ? issuerName(issuer.certPem) : request.commonName),
    sequence(time(request.notBefore), time(request.notAfter)),
    name(request.commonName),
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, { key: signer, dsaEncoding: 'der' });
  const der = sequence(tbs, algorithm, bits(signature));
  return { certPem: pem('CERTIFICATE', der), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** The CN of a certificate this module issued (its names are always a single CN). */
const issuerName = (certPem: string) => new X509Certificate(certPem).subject.replace(/^CN=/, '');

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
