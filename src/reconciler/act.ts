import { KubeApiError, type KubeClient } from '../k8s/client.js';
import type { KubeObject } from '../traffic/objects.js';
import type { Action, Ref } from './actions.js';
import type { Decision } from './decide.js';
import type { RolloutObject } from './types.js';

export interface ActOptions {
  log?: (line: string) => void;
  /** Told about every object written (the controller keeps its cache current with it). */
  onWritten?: (object: KubeObject) => void;
  onDeleted?: (ref: Ref) => void;
}

/** Carries out a decision: the actions in order, then the status (only if the Rollout did not change meanwhile). */
export async function act(client: KubeClient, rollout: RolloutObject, decision: Decision, options: ActOptions = {}): Promise<RolloutObject> {
  let resourceVersion = rollout.metadata.resourceVersion;
  for (const action of decision.actions) {
    options.log?.(action.why);
    const result = await perform(client, action);
    if (result) options.onWritten?.(result);
    else if (action.kind === 'delete') options.onDeleted?.(action.ref);
    // A write to the Rollout itself (clearing an abort request) moves its version on.
    if (result && action.kind !== 'apply' && action.ref.kind === rollout.kind && action.ref.name === rollout.metadata.name) resourceVersion = result.metadata.resourceVersion;
  }
  // A pass that changed nothing (waiting on pods, a pause, a grace period) writes nothing: at scale, most passes.
  if (decision.actions.length === 0 && decision.events.length === 0 && JSON.stringify(decision.status) === JSON.stringify(rollout.status ?? {})) return rollout;
  const written = await client.replaceStatus<RolloutObject>({ ...rollout, metadata: { ...rollout.metadata, resourceVersion }, status: decision.status });
  options.onWritten?.({ ...written, apiVersion: rollout.apiVersion, kind: rollout.kind });
  for (const event of decision.events) await recordEvent(client, written, event).catch(() => undefined);
  return written;
}

async function perform(client: KubeClient, action: Action): Promise<KubeObject | undefined> {
  switch (action.kind) {
    case 'apply':
      return client.apply(action.object, { force: true, fieldManager: 'stepwise-reconciler' });
    case 'merge':
      return client.mergePatch(action.ref, action.patch);
    case 'replace-template':
      return client.jsonPatch(action.ref, [{ op: 'replace', path: '/spec/template', value: action.template }]);
    case 'delete':
      await client.delete(action.ref);
      return undefined;
  }
}

async function recordEvent(client: KubeClient, rollout: RolloutObject, event: Decision['events'][number]): Promise<void> {
  const now = new Date().toISOString();
  await client.create({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName: `${rollout.metadata.name}.`, namespace: rollout.metadata.namespace },
    involvedObject: { apiVersion: rollout.apiVersion, kind: rollout.kind, name: rollout.metadata.name, namespace: rollout.metadata.namespace, uid: rollout.metadata.uid },
    reason: event.reason,
    message: event.message,
    type: event.type,
    source: { component: 'stepwise' },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  } as unknown as KubeObject);
}

export const isConflict = (e: unknown) => e instanceof KubeApiError && e.status === 409;
