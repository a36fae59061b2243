import { ApiObject, type Duration } from 'cdk8s';
import type * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { NormalizedApp } from '../src/appspec/normalize.js';
import type { KubeObject } from '../src/k8s/objects.js';
import { attachRollout } from '../src/render/attach.js';
import type {
  AnalysisSpec,
  Engine,
  MatchSpec,
  PauseSpec,
  ReplicasValue,
  RolloutSpec,
  StepSpec,
  Strategy,
  TrafficValue,
} from '../src/appspec/types.js';
import { ROLLOUT_NAME_LABEL } from '../src/render/labels.js';
import { REVISION_LABEL } from '../src/traffic/service.js';
import { CanaryService } from './canary-service.js';

/** A pause at the end of a step. */
export interface PauseProps {
  /** How long to wait before the next step. @default none: the step waits for approval (`stepwise promote`) */
  readonly duration?: Duration;
}

/** One step of a release: how many pods run the new version, how much traffic and which requests go to it. */
export interface StepProps {
  /** Pods on the new version: a count, or a percentage of the workload's replicas ("20%"). */
  readonly replicas: ReplicasValue;
  /** Share of unmatched traffic sent to the new version ("10%"). @default none: traffic is not shifted */
  readonly traffic?: TrafficValue;
  /** Requests matching any entry go to the new version (OR between entries, AND within one). @default none */
  readonly matches?: readonly MatchSpec[];
  /** @default a pause for approval, except on the last step (as the app spec) */
  readonly pause?: PauseProps;
  /** Check this step's metrics (with `analysis.everyStep` false), or skip them (false). @default analysis.everyStep */
  readonly analyze?: boolean;
}

/**
 * A release attached to an existing workload.
 *
 * @example
 * Rollout.canary(chart, 'release', {
 *   workload: deployment, // a cdk8s-plus Deployment
 *   service,
 *   ingress,
 *   steps: [{ replicas: '20%', traffic: '20%', pause: { duration: Duration.minutes(5) } }, { replicas: '100%' }],
 * });
 */
export interface RolloutProps {
  /** canary, blueGreen or abTest; the static factories set it. */
  readonly strategy: Strategy;
  /** The workload to release: a cdk8s-plus Deployment or StatefulSet, or an ApiObject of either kind. */
  readonly workload: kplus.Deployment | kplus.StatefulSet | ApiObject;
  /** The stable Service selecting the workload's pods. Required with `ingress` or `httpRoute`. @default none */
  readonly service?: kplus.Service | ApiObject;
  /** An nginx Ingress routing to `service`: its canary Ingress carries the step's annotations. @default none */
  readonly ingress?: kplus.Ingress | ApiObject;
  /** A Gateway API HTTPRoute routing to `service`: its weights and rules follow the steps. @default none */
  readonly httpRoute?: ApiObject;
  /** "builtin" (Stepwise's reconciler) or "kruise" (rollouts.kruise.io/v1beta1). @default "builtin" */
  readonly engine?: Engine;
  /** Explicit steps; or the Flagger shorthand below. @default none */
  readonly steps?: readonly StepProps[];
  /** Flagger shorthand: traffic grows by this much per step up to `maxWeight`. @default none */
  readonly stepWeight?: number;
  /** Flagger shorthand: the last weight of `stepWeight`. @default 100 */
  readonly maxWeight?: number;
  /** Flagger shorthand: explicit traffic weights, e.g. [1, 5, 20, 50]. @default none */
  readonly stepWeights?: readonly number[];
  /** The pause after each shorthand step. @default a pause for approval */
  readonly pause?: PauseProps;
  /** How long to wait after each traffic change. @default Duration.seconds(3) */
  readonly gracePeriod?: Duration;
  /** Updated pods allowed to be not Ready when a step is judged ready (count or "%"). @default 0 */
  readonly failureThreshold?: number | string;
  /** A release whose new pods are not Ready this long after a step began is rolled back. @default 10 minutes */
  readonly progressDeadline?: Duration;
  /**
   * Metric checks and webhooks that gate each step and roll a failing release back (builtin engine), as the app
   * spec's `rollout.analysis`. @default none
   * @example { metrics: [{ name: 'success', template: 'request-success-rate', thresholdRange: { min: 99 } }] }
   */
  readonly analysis?: AnalysisSpec;
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
    if (props.ingress && props.httpRoute)
      throw new Error(`${this.node.path}: give ingress or httpRoute, not both (one traffic route per Rollout)`);
    const workload = ApiObject.of(props.workload);
    const service = props.service && ApiObject.of(props.service);
    const route = (props.ingress ?? props.httpRoute) && ApiObject.of((props.ingress ?? props.httpRoute) as ApiObject);
    const expected = props.ingress ? 'Ingress' : 'HTTPRoute';
    if (route && route.kind !== expected)
      throw new Error(
        `${this.node.path}: ${props.ingress ? 'ingress' : 'httpRoute'} must be an ${expected}, got ` +
          `${route.kind} "${route.name}"`,
      );
    const snapshot = (o: ApiObject | undefined) => o && (o.toJson() as KubeObject);
    const attached = attachRollout(
      { workload: snapshot(workload) as KubeObject, service: snapshot(service), route: snapshot(route) },
      rolloutSpec(props, this.node.path),
      {
        where: this.node.path,
        ...(props.name ? { name: props.name } : {}),
        ...(props.labels ? { labels: props.labels } : {}),
      },
    );
    this.plan = attached.plan;
    // The admission webhook selects what the Rollout governs by this label.
    if (attached.labelsGoverned)
      for (const governed of [workload, service, route])
        governed?.metadata.addLabel(ROLLOUT_NAME_LABEL, attached.model.name);
    this.apiObject = new ApiObject(this, 'Resource', attached.rollout);
    if (attached.ownsCanaryService && service) {
      this.canaryService = new CanaryService(this, 'CanaryService', {
        service,
        revisionLabel: REVISION_LABEL[attached.model.workload.kind],
      });
    }
  }
}

/**
 * The app spec's rollout block for construct props: durations in whole seconds (anything else is refused,
 * naming the construct and field), the objects left out.
 */
function rolloutSpec(props: RolloutProps, where: string): RolloutSpec {
  const seconds = (d: Duration | undefined, field: string) => {
    if (!d) return undefined;
    try {
      return d.toSeconds();
    } catch {
      throw new Error(`${where}: ${field}: ${d.toHumanString()} is not a whole number of seconds`);
    }
  };
  const pause = (p: PauseProps | undefined, field: string): PauseSpec | undefined =>
    p && (p.duration ? { duration: seconds(p.duration, `${field}.duration`) } : {});
  const spec = {
    strategy: props.strategy,
    engine: props.engine,
    steps: props.steps?.map(
      (s, i): StepSpec => ({ ...s, matches: s.matches && [...s.matches], pause: pause(s.pause, `steps[${i}].pause`) }),
    ),
    stepWeight: props.stepWeight,
    maxWeight: props.maxWeight,
    stepWeights: props.stepWeights && [...props.stepWeights],
    pause: pause(props.pause, 'pause'),
    gracePeriodSeconds: seconds(props.gracePeriod, 'gracePeriod'),
    failureThreshold: props.failureThreshold,
    progressDeadlineSeconds: seconds(props.progressDeadline, 'progressDeadline'),
    analysis: props.analysis,
  };
  // Absent, not undefined: the rules tell a field left out from one given.
  return JSON.parse(JSON.stringify(spec)) as RolloutSpec;
}
