/**
 * The synthesis baseline as its own process: the same Deployment + Service + Ingress per app as the Stepwise
 * bench apps, with plain cdk8s-plus, one Chart per app in one App, printed by `app.synthYaml()`.
 *
 *   node dist/bench/synth/baseline.js 1000 > out.yaml
 */
import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';

const n = Number(process.argv[2] ?? 100);
const app = new App();
for (let i = 0; i < n; i++) {
  const chart = new Chart(app, `app-${i}`, { namespace: 'bench' });
  const deployment = new kplus.Deployment(chart, 'workload', {
    replicas: 3 + (i % 5),
    containers: [
      {
        image: `registry.example.com/app-${i}:1.0.${i}`,
        portNumber: 8080,
        readiness: kplus.Probe.fromHttpGet('/healthz', { port: 8080 }),
      },
    ],
  });
  const service = deployment.exposeViaService({ ports: [{ port: 80, targetPort: 8080 }] });
  const ingress = new kplus.Ingress(chart, 'ingress', { className: 'nginx' });
  const backend = kplus.IngressBackend.fromService(service);
  ingress.addHostRule(`app-${i}.example.com`, '/', backend, kplus.HttpIngressPathType.PREFIX);
}
process.stdout.write(app.synthYaml());
