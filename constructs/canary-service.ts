import { ApiObject, Lazy } from 'cdk8s';
import type * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { KubeObject } from '../src/k8s/objects.js';
import { canaryService, REVISION_LABEL } from '../src/traffic/service.js';

export interface CanaryServiceProps {
  /** The stable Service: a cdk8s-plus Service, or an ApiObject of kind Service. */
  readonly service: kplus.Service | ApiObject;
  /**
   * The label that tells versions apart; the reconciler adds it to the selector once it knows the new revision.
   * @default "pod-template-hash"
   */
  readonly revisionLabel?: string;
}

/**
 * The canary Service `<service>-canary`: a copy of the stable Service without its allocated addresses. Its
 * ports, type and selector are read from the stable Service when the chart is synthesized (a Lazy spec), so
 * later changes to the stable Service carry over; its labels and annotations are copied when it is constructed.
 * The stable Service itself is never modified, and `metadata.addLabel` or `addJsonPatch` on this one are kept.
 *
 * @example
 * const service = new kplus.Service(chart, 'web', { ports: [{ port: 80, targetPort: 8080 }] });
 * new CanaryService(chart, 'web-canary', { service }); // Service "web-canary"
 */
export class CanaryService extends ApiObject {
  constructor(scope: Construct, id: string, props: CanaryServiceProps) {
    const stable = ApiObject.of(props.service);
    if (stable.kind !== 'Service')
      throw new Error(`${scope.node.path}/${id}: service must be a Service, got ${stable.kind} "${stable.name}"`);
    const revisionLabel = props.revisionLabel ?? REVISION_LABEL.Deployment;
    const copy = () => canaryService(stable.toJson() as KubeObject, revisionLabel);
    super(scope, id, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: copy().metadata,
      spec: Lazy.any({ produce: () => copy().spec }),
    });
  }
}
