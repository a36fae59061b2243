import { renderBuiltinCanaryService, renderBuiltinRollout } from '../engines/builtin.js';
import { renderKruiseRollout } from '../engines/kruise.js';
import type { NormalizedApp } from '../spec/normalize.js';
import type { Engine } from '../spec/types.js';
import type { KubeObject } from '../traffic/objects.js';
import { renderRoute, renderService, renderWorkload } from './workload.js';

/**
 * Every object an app needs, in apply order: workload, stable Service, canary Service (builtin engine),
 * Ingress or HTTPRoute, Rollout. The single source for `stepwise synth`, the constructs and the reconciler.
 */
export function renderApp(app: NormalizedApp, engine: Engine = app.rollout.engine): KubeObject[] {
  const service = renderService(app);
  const route = renderRoute(app);
  const canary = engine === 'builtin' ? renderBuiltinCanaryService(app, service) : undefined;
  const rollout = engine === 'builtin' ? renderBuiltinRollout(app) : renderKruiseRollout(app);
  return [renderWorkload(app), service, ...(canary ? [canary] : []), ...(route ? [route] : []), rollout];
}
