/**
 * The real OpenKruise Rollouts controller (the pinned version, built by scripts/testenv/build.sh kruise) beside a
 * test cluster: its CRDs, its namespace and webhook configurations, and the manager itself on 127.0.0.1, its
 * webhook called by the API server at https://127.0.0.1:PORT. See ../../../shared/reference/kruise-controller.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { KubeApiError, KubeClient } from '../../src/k8s/client.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { ensureKruise, type KruiseBuild } from './build.js';
import { type Cluster, installCrds, register, unregister } from './cluster.js';
import { type Component, freePorts, probe, startComponent, stopComponents, tail, waitFor } from './process.js';

/** Its POD_NAMESPACE: where it would keep its certificate Secret, and the namespace its manifests name. */
export const KRUISE_NAMESPACE = 'kruise-rollout';
/** The names the controller looks up (pkg/webhook/util/configuration): it updates them, it never creates them. */
const MUTATING = 'kruise-rollout-mutating-webhook-configuration';
const VALIDATING = 'kruise-rollout-validating-webhook-configuration';
/** The webhook that judges Rollouts, named in the API server's denial. */
const ROLLOUT_WEBHOOK = 'vrollout.kb.io';

export interface KruiseOptions {
  /** Extra flags after the defaults, e.g. `--v=3` to log each reconcile. */
  extraArgs?: string[];
  /** How long it may take to become ready. @default 90_000 */
  timeoutMs?: number;
  /** Progress lines. @default stderr */
  log?: (line: string) => void;
}

export interface KruiseController {
  /** Its log (stdout and stderr), in the cluster's run directory. */
  readonly log: string;
  readonly webhookPort: number;
  /**
   * Stops the controller. Its webhook configurations stay, as they do in a cluster whose controller is down:
   * changes they govern are refused until it is back.
   */
  stop(): Promise<void>;
}

/**
 * Installs what the controller needs in `cluster` and starts it. Resolves once its webhook is reached by the API
 * server; on any failure stops it and throws with the tail of its log.
 */
export async function startKruise(cluster: Cluster, options: KruiseOptions = {}): Promise<KruiseController> {
  const say = options.log ?? ((line: string) => process.stderr.write(`[kruise] ${line}\n`));
  const build = await ensureKruise();
  const started = Date.now();
  const client = new KubeClient(cluster.kubeConfig());
  await installCrds(client, kruiseCrds(build));
  await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: KRUISE_NAMESPACE } });
  for (const config of webhookConfigurations(build)) await client.apply(config, { force: true });

  const [webhookPort, metricsPort, healthPort] = (await freePorts(3)) as [number, number, number];
  const log = `${cluster.state.runDir}/kruise-rollout.log`;
  const component = startManager(build, cluster, { webhookPort, metricsPort, healthPort }, log, options.extraArgs);
  register([component]);
  const stop = async () => {
    await stopComponents([component]);
    unregister([component]);
  };
  try {
    await whenReady(client, component, { webhookPort, healthPort }, options.timeoutMs ?? 90_000);
  } catch (e) {
    await stop();
    throw e;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  say(`${build.version} ready in ${seconds} s, webhook on 127.0.0.1:${webhookPort} (log ${log})`);
  return { log, webhookPort, stop };
}

/** The manager process, on loopback ports, in the directory holding its Lua scripts. */
function startManager(
  build: KruiseBuild,
  cluster: Cluster,
  ports: { webhookPort: number; metricsPort: number; healthPort: number },
  log: string,
  extraArgs: string[] = [],
): Component {
  const args = [
    `--kubeconfig=${cluster.kubeconfig}`,
    '--leader-elect=false',
    `--metrics-bind-address=127.0.0.1:${ports.metricsPort}`,
    `--health-probe-bind-address=127.0.0.1:${ports.healthPort}`,
    ...extraArgs,
  ];
  const env = {
    // With a host set it issues itself a certificate for that IP and points its webhooks at a URL on it.
    WEBHOOK_HOST: '127.0.0.1',
    WEBHOOK_PORT: String(ports.webhookPort),
    WEBHOOK_CERT_DIR: `${cluster.state.runDir}/kruise-certs`,
    POD_NAMESPACE: KRUISE_NAMESPACE,
  };
  return startComponent('kruise-rollout', build.binary, args, log, false, { cwd: build.dir, env });
}

/** Its four CRDs: it does not start without BatchRelease and TrafficRouting, and records RolloutHistories. */
function kruiseCrds(build: KruiseBuild): KubeObject[] {
  const dir = `${build.dir}/config/crd/bases`;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(`${dir}/${f}`, 'utf8')).map((d) => d.toJS() as KubeObject))
    .filter((o) => o?.kind === 'CustomResourceDefinition');
}

interface Webhook {
  name: string;
  clientConfig: { service?: { name: string; namespace: string; path?: string } };
  objectSelector?: unknown;
  [field: string]: unknown;
}
type WebhookConfiguration = KubeObject & { webhooks: Webhook[] };

const yamlDocs = <T>(file: string): T[] =>
  parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as T)
    .filter(Boolean);

/**
 * The webhook configurations as the module's config/default kustomization renders them: config/webhook's
 * manifests, their object selectors from its patch (only workloads Kruise has labelled are intercepted), names
 * prefixed, and the Service reference in the release namespace. The controller keeps the Service reference's
 * path and swaps the reference for a URL on WEBHOOK_HOST, so the Service itself need not exist.
 */
function webhookConfigurations(build: KruiseBuild): WebhookConfiguration[] {
  const config = `${build.dir}/config`;
  const { namespace, namePrefix } = parse(readFileSync(`${config}/default/kustomization.yaml`, 'utf8')) as {
    namespace: string;
    namePrefix: string;
  };
  const patches = yamlDocs<WebhookConfiguration>(`${config}/webhook/patch_manifests.yaml`);
  const rendered = yamlDocs<WebhookConfiguration>(`${config}/webhook/manifests.yaml`).map((manifest) => {
    const selectors = new Map(
      patches.filter((p) => p.kind === manifest.kind).flatMap((p) => p.webhooks.map((w) => [w.name, w.objectSelector])),
    );
    const webhooks = manifest.webhooks.map((w) => ({
      ...w,
      ...(selectors.get(w.name) ? { objectSelector: selectors.get(w.name) } : {}),
      clientConfig: {
        service: { ...w.clientConfig.service!, namespace, name: `${namePrefix}${w.clientConfig.service!.name}` },
      },
    }));
    return {
      apiVersion: manifest.apiVersion,
      kind: manifest.kind,
      metadata: { name: `${namePrefix}${manifest.metadata.name}` },
      webhooks,
    };
  });
  const names = rendered.map((c) => c.metadata.name).sort();
  if (names.join() !== [MUTATING, VALIDATING].join())
    throw new Error(
      `the module's config/default renders webhook configurations ${names}, not ${MUTATING}, ${VALIDATING}`,
    );
  return rendered;
}

/**
 * Ready: its probe answers, both webhook configurations point at its port (it has issued its certificate and
 * rewritten them), and the API server, calling it there, denies an invalid Rollout with its message.
 */
async function whenReady(
  client: KubeClient,
  component: Component,
  ports: { webhookPort: number; healthPort: number },
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(deadline - Date.now(), 1000);
  await waitFor(
    'kruise-rollout /readyz',
    async () => (await probe(`http://127.0.0.1:${ports.healthPort}/readyz`))?.status === 200,
    left(),
    component,
  );
  const url = `https://127.0.0.1:${ports.webhookPort}/`;
  await waitFor(
    `kruise-rollout's webhook configurations pointing at ${url}`,
    async () => {
      for (const [kind, name] of [
        ['MutatingWebhookConfiguration', MUTATING],
        ['ValidatingWebhookConfiguration', VALIDATING],
      ] as const) {
        const got = await client.get<WebhookConfiguration>({
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind,
          name,
        });
        const hooks = (got?.webhooks ?? []) as { clientConfig: { url?: string } }[];
        if (hooks.length === 0 || !hooks.every((w) => w.clientConfig.url?.startsWith(url))) return false;
      }
      return true;
    },
    left(),
    component,
  );
  let answer = '';
  try {
    await waitFor(
      `the API server to call ${ROLLOUT_WEBHOOK} and be denied`,
      async () => {
        answer = await dryRunInvalidRollout(client);
        return answer.includes(`"${ROLLOUT_WEBHOOK}" denied the request`);
      },
      left(),
      component,
    );
  } catch (e) {
    // The API server's last answer tells an unreachable webhook from one that let the Rollout through.
    throw new Error(`${(e as Error).message}\nlast answer to the dry run: ${answer}`);
  }
}

/** A Rollout that passes the CRD schema but not Kruise's validation (a step of 200%), applied as a dry run. */
async function dryRunInvalidRollout(client: KubeClient): Promise<string> {
  const rollout: KubeObject = {
    apiVersion: 'rollouts.kruise.io/v1beta1',
    kind: 'Rollout',
    metadata: { name: 'webhook-probe', namespace: KRUISE_NAMESPACE },
    spec: {
      workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'webhook-probe' },
      strategy: { canary: { steps: [{ replicas: '200%' }] } },
    },
  };
  try {
    await client.apply(rollout, { dryRun: true, force: true });
    return 'accepted';
  } catch (e) {
    if (e instanceof KubeApiError) return e.message;
    throw e;
  }
}

/** The last lines of the controller's log, for a test's failure message. */
export const kruiseLogTail = (controller: KruiseController, lines = 40) => tail(controller.log, lines);
