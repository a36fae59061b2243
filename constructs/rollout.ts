import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { ENGINES } from '../src/engines/index.js';
import type { RolloutModel } from '../src/engines/model.js';
import { SpecError } from '../src/appspec/errors.js';
import { pointerToPath } from '../src/appspec/load.js';
import { normalizeRollout, type NormalizedApp } from '../src/appspec/normalize.js';
import { validateRollout } from '../src/appspec/rules.js';
import type { RolloutSpec, WorkloadKind } from '../src/appspec/types.js';
import { ROLLOUT_NAME_LABEL } from '../src/render/labels.js';
import { REVISION_LABEL } from '../src/traffic/service.js';
import { CanaryService } from './canary-service.js';

export interface RolloutProps extends RolloutSpec {
  /** The workload to release: a cdk8s-plus Deployment or StatefulSet, or an ApiObject of either kind. */
  readonly workload: Construct;
  /** The stable Service selecting the workload's pods. Required with `ingress` or `httpRoute`. */
  readonly service?: Construct;
  /** An nginx Ingress routing to `service`: its canary Ingress carries the step's annotations. */
  readonly ingress?: Construct;
  /** A Gateway API HTTPRoute routing to `service`: its backend weights and rules follow the steps. */
  readonly httpRoute?: Construct;
  /** @default the workload's name */
  readonly name?: string;
  /** Labels on the Rollout (and the canary Service). @default the workload's labels */
  readonly labels?: Record<string, string>;
}

/** Props of the static factories: everything but the strategy. */
export type StrategyRolloutProps = Omit<RolloutProps, 'strategy'>;

/**
 * A progressive release of an existing workload, attached to it (the non-intrusive model of OpenKruise): the
 * workload, Service and route are referenced by name, and with the builtin engine labelled with the Rollout's
 * name (`stepwise.dev/rollout-name`), which is all that changes on them. Emits the Rollout for the chosen
 * engine and, for the builtin engine with a route, the canary Service. Steps are checked as they are
 * constructed, with the same rules as the app spec.
 */
export class Rollout extends Construct {
  /** A canary: new pods in a separate canary workload, traffic shifted by weight. */
  public static canary(scope: Construct, id: string, props: StrategyRolloutProps): Rollout {
    return new Rollout(scope, id, { ...props, strategy: 'canary' });
  }

  /** A blue-green release: a full new set beside the old one, traffic switched step by step (0% allowed). */
  public static blueGreen(scope: Construct, id: string, props: StrategyRolloutProps): Rollout {
    return new Rollout(scope, id, { ...props, strategy: 'blueGreen' });
  }

  /** An A/B test: every step routes by header, cookie, query or path matches. */
  public static abTest(scope: Construct, id: string, props: StrategyRolloutProps): Rollout {
    return new Rollout(scope, id, { ...props, strategy: 'abTest' });
  }

  /** The normalized plan: steps with defaults applied and shorthand expanded. */
  public readonly plan: NormalizedApp['rollout'];
  /** The emitted Rollout object. */
  public readonly apiObject: ApiObject;
  /** The canary Service, when this Rollout's engine owns one. */
  public readonly canaryService?: CanaryService;

  constructor(scope: Construct, id: string, props: RolloutProps) {
    super(scope, id);
    const workload = ApiObject.of(props.workload);
    const kind = workload.kind as WorkloadKind;
    if (kind !== 'Deployment' && kind !== 'StatefulSet')
      throw new Error(
        `${this.node.path}: workload must be a Deployment or a StatefulSet, got ${workload.kind} "${workload.name}"`,
      );
    if (props.ingress && props.httpRoute)
      throw new Error(`${this.node.path}: give ingress or httpRoute, not both (one traffic route per Rollout)`);
    const route = props.ingress
      ? { kind: 'ingress' as const, object: ApiObject.of(props.ingress) }
      : props.httpRoute
        ? { kind: 'gateway' as const, object: ApiObject.of(props.httpRoute) }
        : undefined;
    if (route && !props.service) throw new Error(`${this.node.path}: a route needs the stable service it routes to`);
    const expectedKind = route?.kind === 'ingress' ? 'Ingress' : 'HTTPRoute';
    if (route && route.object.kind !== expectedKind)
      throw new Error(
        `${this.node.path}: ${route.kind === 'ingress' ? 'ingress' : 'httpRoute'} must be an ${expectedKind}, got ` +
          `${route.object.kind} "${route.object.name}"`,
      );

    const { workload: _w, service: _s, ingress: _i, httpRoute: _h, name, labels, ...spec } = props;
    const violations = validateRollout(spec, {
      workloadKind: kind,
      ...(route ? { routeKind: route.kind } : {}),
      base: '',
    }).filter((v) => v.severity !== 'warning');
    if (violations.length) {
      throw new SpecError(
        violations.map((v) => ({
          location: { file: this.node.path },
          path: pointerToPath(v.pointer),
          message: v.message,
          severity: 'error' as const,
        })),
      );
    }
    this.plan = normalizeRollout(spec, kind, '').rollout;

    const model: RolloutModel = {
      name: name ?? workload.name,
      ...(workload.metadata.namespace ? { namespace: workload.metadata.namespace } : {}),
      labels: labels ?? { ...workload.metadata.toJson().labels },
      annotations: {},
      workload: { kind, name: workload.name },
      ...(props.service ? { service: ApiObject.of(props.service).name } : {}),
      ...(route ? { route: { kind: route.kind, name: route.object.name } } : {}),
      rollout: this.plan,
    };
    const engine = ENGINES[this.plan.engine];
    if (engine.admission) {
      // The admission webhook selects what the Rollout governs by this label.
      for (const governed of [workload, props.service, route?.object]) {
        if (governed) ApiObject.of(governed).metadata.addLabel(ROLLOUT_NAME_LABEL, model.name);
      }
    }
    const rendered = engine.rollout(model);
    this.apiObject = new ApiObject(this, 'Resource', rendered);
    if (engine.ownsCanaryService && route && props.service) {
      this.canaryService = new CanaryService(this, 'CanaryService', {
        service: props.service,
        revisionLabel: REVISION_LABEL[kind],
      });
    }
  }
}
