import { ENGINES } from '../engines/index.js';
import { rolloutModel } from '../engines/model.js';
import type { NormalizedApp } from '../appspec/normalize.js';
import type { Engine } from '../appspec/types.js';
import type { KubeObject } from '../k8s/objects.js';
import { canaryService, REVISION_LABEL } from '../traffic/service.js';
import { objectLabels, ROLLOUT_NAME_LABEL } from './labels.js';
import { renderRoute, renderService, renderWorkload } from './workload.js';

/**
 * Every object an app needs, in apply order: workload, stable Service, canary Service (when the engine
 * owns it and there is a route), Ingress or HTTPRoute, Rollout. The single source for `stepwise synth`,
 * the constructs and the reconciler.
 */
export function renderApp(app: NormalizedApp, engine: Engine = app.rollout.engine): [KubeObject, ...KubeObject[]] {
  const renderer = ENGINES[engine];
  const model = rolloutModel(app, objectLabels(app));
  const mark = (o: KubeObject) => (renderer.admission ? governedBy(o, model.name) : o);
  const service = mark(renderService(app));
  const route = renderRoute(app);
  const canary =
    renderer.ownsCanaryService && route ? canaryService(service, REVISION_LABEL[app.workload.kind]) : undefined;
  return [
    mark(renderWorkload(app)),
    service,
    ...(canary ? [canary] : []),
    ...(route ? [mark(route)] : []),
    renderer.rollout(model),
  ];
}

/** `object` labelled as governed by the Rollout `rolloutName`, for the admission webhook's selector. */
export function governedBy<T extends KubeObject>(object: T, rolloutName: string): T {
  const labels = { ...object.metadata.labels, [ROLLOUT_NAME_LABEL]: rolloutName };
  return { ...object, metadata: { ...object.metadata, labels } };
}
