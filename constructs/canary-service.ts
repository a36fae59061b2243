import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import { canaryService, canaryServiceName, REVISION_LABEL } from '../src/traffic/service.js';
import type { KubeObject } from '../src/k8s/objects.js';

export interface CanaryServiceProps {
  /** The stable Service; a cdk8s-plus Service or any ApiObject of kind Service. */
  readonly service: Construct;
  /**
   * The label that tells versions apart; the reconciler adds it to the selector once it knows the new revision.
   * @default "pod-template-hash"
   */
  readonly revisionLabel?: string;
}

/**
 * The canary Service `<service>-canary`: a copy of the stable Service's ports, type, labels and selector, read
 * when the chart is synthesized so that later changes to the stable Service carry over. The stable Service
 * itself is never modified.
 */
export class CanaryService extends ApiObject {
  private readonly stable: ApiObject;
  private readonly revisionLabel: string;

  constructor(scope: Construct, id: string, props: CanaryServiceProps) {
    const stable = ApiObject.of(props.service);
    if (stable.kind !== 'Service')
      throw new Error(`${scope.node.path}/${id}: service must be a Service, got ${stable.kind} "${stable.name}"`);
    super(scope, id, { apiVersion: 'v1', kind: 'Service', metadata: { name: canaryServiceName(stable.name) } });
    this.stable = stable;
    this.revisionLabel = props.revisionLabel ?? REVISION_LABEL.Deployment;
  }

  public override toJson(): KubeObject {
    return canaryService(this.stable.toJson() as KubeObject, this.revisionLabel);
  }
}
