import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stableVersion } from '../apply/admit.js';
import type { KubeClient } from '../k8s/client.js';
import { ROLLOUT_REF, type Reader } from '../reconciler/observe.js';
import type { RolloutObject } from '../reconciler/types.js';
import { ensureServingCertificate, type ServingCertificate } from './certificates.js';
import { endpointHosts, installedConfiguration, trustCaBundle } from './configuration.js';
import { review } from './review.js';
import { AdmissionServer } from './server.js';

export interface WebhookOptions {
  port: number;
  /** @default all interfaces */
  host?: string;
  /** Where the managed certificates' Secret lives (the controller's namespace). */
  namespace: string;
  /** Serve the certificate in this directory (`tls.crt`, `tls.key`, optional `ca.crt`) instead of managing one. */
  certDir?: string;
  /** Names the serving certificate covers besides those the webhook configuration uses. */
  hosts?: readonly string[];
  /** How often certificates and the configuration's CA bundle are checked. @default 60000 */
  maintainEveryMs?: number;
  log?: (line: string) => void;
  onReviewed?: (ms: number) => void;
}

/**
 * The admission webhook of `stepwise controller`: serves reviews from the controller's cache, with a
 * certificate it manages in a Secret (or one given to it), and keeps the webhook configuration trusting it.
 * Every replica serves, leader or not, so a deployer's write is checked whichever replica it reaches.
 */
export class AdmissionWebhook {
  private timer?: NodeJS.Timeout;
  private serving?: ServingCertificate;
  /** Whether a webhook configuration was found the last time (logged when that changes). */
  private installed?: boolean;

  private constructor(
    private readonly client: KubeClient,
    private readonly options: WebhookOptions,
    private server?: AdmissionServer,
  ) {}

  static async start(client: KubeClient, reader: Reader, options: WebhookOptions): Promise<AdmissionWebhook> {
    const webhook = new AdmissionWebhook(client, options);
    const tls = await webhook.certificate();
    const lookup = {
      // The cache first; a Rollout created a moment ago may not be in it yet.
      rollout: async (namespace: string, name: string) => {
        const ref = { ...ROLLOUT_REF, namespace, name };
        return (await reader.get<RolloutObject>(ref)) ?? client.get<RolloutObject>(ref);
      },
      stableVersion: (workload: Parameters<typeof stableVersion>[1]) => stableVersion(reader, workload),
    };
    webhook.server = await AdmissionServer.start({
      port: options.port,
      ...(options.host ? { host: options.host } : {}),
      tls,
      handle: (request) => review(request, lookup),
      ...(options.log ? { log: options.log } : {}),
      ...(options.onReviewed ? { onReviewed: options.onReviewed } : {}),
    });
    await webhook.trust(tls);
    options.log?.(`admission webhook serving on ${options.host ?? '*'}:${webhook.server.port}`);
    webhook.timer = setInterval(() => void webhook.maintain(), options.maintainEveryMs ?? 60_000);
    webhook.timer.unref();
    return webhook;
  }

  get port(): number {
    return this.server?.port ?? 0;
  }

  /** TLS connections the webhook has accepted. */
  get connections(): number {
    return this.server?.connections ?? 0;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.server?.stop();
  }

  /** The certificate to serve: given in a directory, or managed in a Secret for the names the API server uses. */
  private async certificate(): Promise<ServingCertificate> {
    const { certDir } = this.options;
    if (certDir) {
      const read = (f: string) => readFileSync(join(certDir, f), 'utf8');
      let caBundle = '';
      try {
        caBundle = read('ca.crt');
      } catch {
        // The configuration's caBundle is then the installer's business.
      }
      return { certPem: read('tls.crt'), keyPem: read('tls.key'), caBundle };
    }
    const hosts = [
      ...new Set([
        ...endpointHosts(await installedConfiguration(this.client)),
        ...(this.options.hosts ?? []),
        'localhost',
        '127.0.0.1',
      ]),
    ];
    return ensureServingCertificate(this.client, { namespace: this.options.namespace, hosts });
  }

  private async trust(tls: ServingCertificate): Promise<void> {
    this.serving = tls;
    if (!tls.caBundle) return;
    const installed = await trustCaBundle(this.client, tls.caBundle);
    if (installed === this.installed) return;
    this.installed = installed;
    this.options.log?.(
      installed
        ? 'the webhook configuration trusts this certificate: any deployer starts releases safely'
        : 'no webhook configuration is installed: only `stepwise apply` starts releases safely (see `stepwise ' +
            'install --help`)',
    );
  }

  /** Renewed or re-read certificates are served from the next connection on, and trusted by the configuration. */
  private async maintain(): Promise<void> {
    try {
      const tls = await this.certificate();
      if (tls.certPem !== this.serving?.certPem) {
        this.server?.setCertificate(tls);
        this.options.log?.('admission webhook: serving a renewed certificate');
      }
      await this.trust(tls);
    } catch (e) {
      this.options.log?.(
        `admission webhook: checking certificates failed, trying again later: ${(e as Error).message}`,
      );
    }
  }
}
