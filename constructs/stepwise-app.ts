import { readFileSync } from 'node:fs';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { renderApp } from '../src/render/app.js';
import { SpecError } from '../src/appspec/errors.js';
import { loadApps, validateAppSpec } from '../src/appspec/load.js';
import type { NormalizedApp } from '../src/appspec/normalize.js';
import type { AppSpec, Engine } from '../src/appspec/types.js';
import { canaryServiceName } from '../src/traffic/service.js';

export interface StepwiseAppProps {
  /** The app spec, the same document as in YAML. */
  readonly spec: AppSpec;
  /** @default the spec's rollout.engine, else "builtin" */
  readonly engine?: Engine;
}

/**
 * Everything an app's progressive delivery needs, from one app spec: workload, stable Service, canary
 * Service (builtin engine), Ingress or HTTPRoute, and Rollout. It renders through the same pure core as
 * `stepwise synth`, so both produce the same objects.
 */
export class StepwiseApp extends Construct {
  /**
   * Loads an app from YAML layers (later files refine earlier ones, as `stepwise synth -f a -f b`).
   * Throws a `SpecError` naming file, line and field of every problem.
   */
  public static fromFiles(
    scope: Construct,
    id: string,
    files: readonly string[],
    options: { name?: string; engine?: Engine } = {},
  ): StepwiseApp {
    const { apps, issues } = loadApps(files.map((file) => ({ file, text: readFileSync(file, 'utf8') })));
    if (issues.some((i) => i.severity === 'error')) throw new SpecError(issues);
    const loaded = options.name ? apps.find((a) => a.app.name === options.name) : apps[0];
    if (!loaded || (!options.name && apps.length > 1)) {
      const why = options.name
        ? `no app named "${options.name}"`
        : `holds ${apps.length} apps; pick one with options.name`;
      throw new Error(`${files.join(' + ')}: ${why}`);
    }
    return new StepwiseApp(scope, id, { spec: loaded.spec, ...(options.engine ? { engine: options.engine } : {}) });
  }

  /** The spec with every default applied. */
  public readonly app: NormalizedApp;
  /** The emitted objects, by kind and name (e.g. "Deployment/web"). */
  public readonly objects: ReadonlyMap<string, ApiObject>;
  /** The workload: a Deployment or a StatefulSet, as the spec says. */
  public readonly workload: ApiObject;
  /** The workload when it is a Deployment. */
  public readonly deployment?: ApiObject;
  /** The workload when it is a StatefulSet. */
  public readonly statefulSet?: ApiObject;
  /** The stable Service. */
  public readonly service: ApiObject;
  /** The canary Service, when the engine keeps one beside the app (builtin, with a route). */
  public readonly canaryService?: ApiObject;
  /** The nginx Ingress, when the app routes through one. */
  public readonly ingress?: ApiObject;
  /** The Gateway API HTTPRoute, when the app routes through one. */
  public readonly httpRoute?: ApiObject;
  /** The Rollout: Stepwise's (builtin engine) or OpenKruise's v1beta1. */
  public readonly rollout: ApiObject;

  constructor(scope: Construct, id: string, props: StepwiseAppProps) {
    super(scope, id);
    this.app = validateAppSpec(props.spec, this.node.path);
    const objects = new Map<string, ApiObject>();
    for (const object of renderApp(this.app, props.engine)) {
      const key = `${object.kind}/${object.metadata.name}`;
      objects.set(key, new ApiObject(this, key, object));
    }
    this.objects = objects;
    const named = (kind: string, name: string) => objects.get(`${kind}/${name}`);
    const { workload, service, route } = this.app;
    this.workload = named(workload.kind, this.app.name) as ApiObject;
    this[workload.kind === 'Deployment' ? 'deployment' : 'statefulSet'] = this.workload;
    this.service = named('Service', service.name) as ApiObject;
    this.canaryService = named('Service', canaryServiceName(service.name));
    this.ingress = route?.kind === 'ingress' ? named('Ingress', route.name) : undefined;
    this.httpRoute = route?.kind === 'gateway' ? named('HTTPRoute', route.name) : undefined;
    this.rollout = [...objects.values()].find((o) => o.kind === 'Rollout') as ApiObject;
  }
}
