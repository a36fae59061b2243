import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { KubeApiError, type KubeClient } from '../k8s/client.js';
import type { KubeObject } from '../k8s/objects.js';
import { issueCertificate, type KeyPair } from './x509.js';

/** What the webhook server serves, and the CA bundle the API server must trust. */
export interface ServingCertificate extends KeyPair {
  caBundle: string;
}

export interface CertificateOptions {
  namespace: string;
  /** @default "stepwise-webhook-tls" */
  secretName?: string;
  /** DNS names and IP addresses the serving certificate must cover. */
  hosts: readonly string[];
  /** @default 365 */
  servingDays?: number;
  /** @default 3650 */
  caDays?: number;
  now?: Date;
}

interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

const DAY_MS = 86_400_000;
export const DEFAULT_SECRET_NAME = 'stepwise-webhook-tls';

/**
 * The webhook's CA and serving certificate, kept in a Secret so that every controller replica and every
 * restart serves the same ones. Created on first use; the serving certificate is issued again (by the same CA)
 * once less than a third of its validity is left or when it does not cover `hosts`, and the CA is replaced the
 * same way, its predecessor kept in the bundle until it expires so no serving certificate stops being trusted.
 * Replicas racing to write the Secret settle on the first writer's certificates.
 */
export async function ensureServingCertificate(
  client: KubeClient,
  options: CertificateOptions,
): Promise<ServingCertificate> {
  const ref = {
    apiVersion: 'v1',
    kind: 'Secret',
    name: options.secretName ?? DEFAULT_SECRET_NAME,
    namespace: options.namespace,
  };
  for (let attempt = 0; ; attempt++) {
    const secret = await client.get<Secret>(ref);
    const stored = secret ? fromSecret(secret) : undefined;
    const wanted = renewedCertificates(stored, options);
    if (stored && wanted === stored) return stored.serving;
    const data = toSecretData(wanted);
    try {
      if (!secret)
        await client.create({
          ...ref,
          metadata: { name: ref.name, namespace: ref.namespace },
          type: 'kubernetes.io/tls',
          data,
        });
      else await client.replace({ ...secret, apiVersion: 'v1', kind: 'Secret', data });
      return wanted.serving;
    } catch (e) {
      // Another replica wrote first: use what it wrote.
      if (!(e instanceof KubeApiError && e.status === 409) || attempt >= 3) throw e;
    }
  }
}

export interface StoredCertificates {
  ca: KeyPair;
  /** Every CA certificate still trusted, newest first. */
  bundle: string[];
  serving: ServingCertificate;
}

const decode = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');
const splitPem = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];

function fromSecret(secret: Secret): StoredCertificates | undefined {
  const d = secret.data ?? {};
  const bundle = splitPem(decode(d['ca.crt']));
  const [newest] = bundle;
  if (!newest || !d['ca.key'] || !d['tls.crt'] || !d['tls.key']) return undefined;
  const ca = { certPem: newest, keyPem: decode(d['ca.key']) };
  return {
    ca,
    bundle,
    serving: { certPem: decode(d['tls.crt']), keyPem: decode(d['tls.key']), caBundle: bundle.join('') },
  };
}

function toSecretData(c: StoredCertificates): Record<string, string> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    'ca.crt': b64(c.bundle.join('')),
    'ca.key': b64(c.ca.keyPem),
    'tls.crt': b64(c.serving.certPem),
    'tls.key': b64(c.serving.keyPem),
  };
}

/** Less than a third of the certificate's validity is left. */
function dueForRenewal(certPem: string, now: Date): boolean {
  const cert = new X509Certificate(certPem);
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return now.getTime() > to - (to - from) / 3;
}

const covers = (certPem: string, hosts: readonly string[]) => {
  const cert = new X509Certificate(certPem);
  return hosts.every((h) => (isIP(h) ? cert.checkIP(h) : cert.checkHost(h, { wildcards: false })) !== undefined);
};

/** `stored` itself when nothing is due, else what replaces it (the CA and serving certificate issued as needed). */
export function renewedCertificates(
  stored: StoredCertificates | undefined,
  options: CertificateOptions,
): StoredCertificates {
  const now = options.now ?? new Date();
  const days = (n: number) => new Date(now.getTime() + n * DAY_MS);
  // Back-dated a little, for clocks that lag ours.
  const notBefore = new Date(now.getTime() - 300_000);
  let ca = stored?.ca;
  let bundle = stored?.bundle ?? [];
  if (!ca || dueForRenewal(ca.certPem, now)) {
    ca = issueCertificate({
      commonName: 'stepwise-webhook-ca',
      notBefore,
      notAfter: days(options.caDays ?? 3650),
      isCa: true,
    });
    bundle = [ca.certPem, ...bundle.filter((pem) => Date.parse(new X509Certificate(pem).validTo) > now.getTime())];
  }
  const serving = stored?.serving;
  const current =
    serving?.certPem &&
    stored?.ca === ca &&
    !dueForRenewal(serving.certPem, now) &&
    covers(serving.certPem, options.hosts);
  if (current && stored) return stored;
  const issued = issueCertificate(
    {
      commonName: 'stepwise-webhook',
      hosts: options.hosts,
      notBefore,
      notAfter: days(options.servingDays ?? 365),
      isCa: false,
    },
    ca,
  );
  return { ca, bundle, serving: { ...issued, caBundle: bundle.join('') } };
}
