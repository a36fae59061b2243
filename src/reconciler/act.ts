import { isDeepStrictEqual } from 'node:util';
import { KubeApiError, RECONCILER_MANAGER, type KubeClient } from '../k8s/client.js';
import type { KubeObject } from '../k8s/objects.js';
import type { Action, Ref } from './actions.js';
import type { RolloutEvent } from './decide.js';
import type { RolloutObject, RolloutStatus } from './types.js';

export interface ActOptions {
  log?: (line: string) => void;
  /** Told about every object written (the controller keeps its cache current with it). */
  onWritten?: (object: KubeObject) => void;
  onDeleted?: (ref: Ref) => void;
}

/**
 * Carries out actions in order, except that `background` ones (pod labels) go out at once beside the rest;
 * returns when all are done. Returns the Rollout's new resourceVersion when an action wrote the Rollout
 * itself (clearing an abort request).
 */
export async function perform(
  client: KubeClient,
  rollout: RolloutObject,
  actions: readonly Action[],
  options: ActOptions = {},
): Promise<string | undefined> {
  let resourceVersion: string | undefined;
  const one = async (action: Action) => {
    options.log?.(action.why);
    let result: KubeObject | undefined;
    try {
      result = await performOne(client, action);
    } catch (e) {
      // A pod replaced since it was observed (a StatefulSet recreates pods in place) needs no label: the next
      // pass sees its successor.
      if (action.background && e instanceof KubeApiError && e.status === 404) return;
      throw e;
    }
    if (result) options.onWritten?.(result);
    else if (action.kind === 'delete') options.onDeleted?.(action.ref);
    if (
      result &&
      action.kind !== 'apply' &&
      action.ref.kind === rollout.kind &&
      action.ref.name === rollout.metadata.name
    )
      resourceVersion = String(result.metadata.resourceVersion);
  };
  const background = actions.filter((a) => a.background).map(one);
  let failure: { reason: unknown } | undefined;
  try {
    for (const action of actions) if (!action.background) await one(action);
  } catch (e) {
    failure = { reason: e };
  }
  // Background writes are waited for even when an ordered one failed; the first failure is the one reported.
  const settled = await Promise.allSettled(background);
  failure ??= settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return resourceVersion;
}

/**
 * Writes the Rollout's status, unless it is what the Rollout already has; fails with 409 if the Rollout changed since
 * it was read.
 */
export async function writeStatus(
  client: KubeClient,
  rollout: RolloutObject,
  status: RolloutStatus,
  options: ActOptions = {},
): Promise<RolloutObject> {
  if (isDeepStrictEqual(status, rollout.status ?? {})) return rollout;
  const written = await client.replaceStatus<RolloutObject>({ ...rollout, status });
  const typed = { ...written, apiVersion: rollout.apiVersion, kind: rollout.kind };
  options.onWritten?.(typed);
  return typed;
}

async function performOne(client: KubeClient, action: Action): Promise<KubeObject | undefined> {
  switch (action.kind) {
    case 'apply':
      return client.apply(action.object, { force: true, fieldManager: RECONCILER_MANAGER });
    case 'merge':
      return client.mergePatch(action.ref, action.patch);
    case 'replace-template':
      return client.jsonPatch(action.ref, [{ op: 'replace', path: '/spec/template', value: action.template }]);
    case 'delete':
      await client.delete(action.ref);
      return undefined;
  }
}

/**
 * Kubernetes Events about Rollouts, sent in the background so that no release waits on them; a lost Event
 * is only a lost message. `flush()` waits for those sent so far (the CLI, before it exits).
 */
export class EventRecorder {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly client: KubeClient) {}

  record(rollout: RolloutObject, event: RolloutEvent): void {
    const now = new Date().toISOString();
    const sent = this.client
      .create({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${rollout.metadata.name}.`, namespace: rollout.metadata.namespace },
        involvedObject: {
          apiVersion: rollout.apiVersion,
          kind: rollout.kind,
          name: rollout.metadata.name,
          namespace: rollout.metadata.namespace,
          uid: rollout.metadata.uid,
        },
        reason: event.reason,
        message: event.message,
        type: event.type,
        source: { component: 'stepwise' },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      } as unknown as KubeObject)
      .then(
        () => undefined,
        () => undefined,
      );
    this.pending.add(sent);
    void sent.then(() => this.pending.delete(sent));
  }

  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}

export const isConflict = (e: unknown) => e instanceof KubeApiError && e.status === 409;
