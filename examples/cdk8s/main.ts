/**
 * A cdk8s app using Stepwise constructs, synthesized by `cdk8s synth` through cdk8s.yaml
 * (`npm run synth:cdk8s`; output in dist/cdk8s/).
 *
 * - `web`: a cdk8s-plus Deployment, Service and Ingress, released blue-green by a Rollout attached to them
 *   (its image from $WEB_IMAGE, as a pipeline would pass the version it ships).
 * - `storefront`: the YAML example examples/canary-gateway.yaml, as a StepwiseApp.
 * - `search`: an HTTPRoute built with the generated Gateway API import, canaried with the OpenKruise engine.
 */
import { fileURLToPath } from 'node:url';
import { App, Chart, Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import { gateway, Rollout, StepwiseApp } from '../../constructs/index.js';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

export class WebChart extends Chart {
  constructor(scope: Construct, id: string) {
    super(scope, id, { namespace: 'web', disableResourceNameHashes: true });
    const deployment = new kplus.Deployment(this, 'web', {
      metadata: { name: 'web' },
      replicas: 4,
      select: false,
      podMetadata: { labels: { app: 'web' } },
      containers: [
        {
          name: 'web',
          image: process.env.WEB_IMAGE ?? 'nginx:1.27',
          portNumber: 8080,
          securityContext: { ensureNonRoot: false, readOnlyRootFilesystem: false },
          readiness: kplus.Probe.fromHttpGet('/', { port: 8080 }),
        },
      ],
    });
    deployment.select(kplus.LabelSelector.of({ labels: { app: 'web' } }));
    const service = new kplus.Service(this, 'web-service', {
      metadata: { name: 'web' },
      ports: [{ port: 80, targetPort: 8080 }],
    });
    service.selectLabel('app', 'web');
    const ingress = new kplus.Ingress(this, 'web-ingress', { metadata: { name: 'web' }, className: 'nginx' });
    ingress.addHostRule(
      'web.example.com',
      '/',
      kplus.IngressBackend.fromService(service),
      kplus.HttpIngressPathType.PREFIX,
    );

    Rollout.blueGreen(this, 'release', {
      workload: deployment,
      service,
      ingress,
      steps: [
        { replicas: '100%', traffic: '0%' },
        { replicas: '100%', traffic: '20%', pause: { duration: Duration.minutes(5) } },
        { replicas: '100%', traffic: '100%' },
      ],
    });
  }
}

export class StorefrontChart extends Chart {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    StepwiseApp.fromFiles(this, 'storefront', [`${examples}canary-gateway.yaml`]);
  }
}

export class SearchChart extends Chart {
  constructor(scope: Construct, id: string) {
    super(scope, id, { namespace: 'search', disableResourceNameHashes: true });
    const deployment = new kplus.Deployment(this, 'search', {
      metadata: { name: 'search' },
      replicas: 6,
      select: false,
      podMetadata: { labels: { app: 'search' } },
      containers: [
        {
          name: 'search',
          image: 'ghcr.io/example/search:5.0.0',
          portNumber: 8080,
          securityContext: { ensureNonRoot: false },
        },
      ],
    });
    deployment.select(kplus.LabelSelector.of({ labels: { app: 'search' } }));
    const service = new kplus.Service(this, 'search-service', {
      metadata: { name: 'search' },
      ports: [{ port: 80, targetPort: 8080 }],
    });
    service.selectLabel('app', 'search');
    const route = new gateway.HttpRoute(this, 'search-route', {
      metadata: { name: 'search' },
      spec: {
        parentRefs: [{ name: 'public', namespace: 'gateway-system' }],
        hostnames: ['search.example.com'],
        rules: [{ backendRefs: [{ name: 'search', port: 80 }] }],
      },
    });
    Rollout.canary(this, 'release', {
      workload: deployment,
      service,
      httpRoute: route,
      engine: 'kruise',
      stepWeights: [5, 25, 50],
      pause: { duration: Duration.minutes(10) },
    });
  }
}

const app = new App();
new WebChart(app, 'web');
new StorefrontChart(app, 'storefront');
new SearchChart(app, 'search');
app.synth();
