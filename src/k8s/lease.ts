import { KubeApiError, type KubeClient } from './client.js';
import type { KubeObject } from './objects.js';

interface Lease extends KubeObject {
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** How long a holder keeps a Lease without renewing it, when neither the Lease nor the options say. */
const DEFAULT_LEASE_SECONDS = 15;
/** The Lease `stepwise controller` leads by. */
export const CONTROLLER_LEASE = 'stepwise-controller';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  /** A holder that has not renewed for this long has lost the lease. @default 15 */
  leaseSeconds?: number;
  /** How often the holder renews. @default 5 */
  renewSeconds?: number;
}

/**
 * The holder of a Lease if it renewed it within its duration by this machine's clock; undefined when nobody holds
 * it, or the holder stopped renewing.
 */
export async function leaseHolder(
  client: KubeClient,
  namespace: string,
  name: string,
  now = new Date(),
): Promise<string | undefined> {
  const lease = await client.get<Lease>({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name });
  const holder = lease?.spec.holderIdentity;
  if (!holder) return undefined;
  const renewed = Date.parse(lease.spec.renewTime ?? lease.spec.acquireTime ?? '');
  const lasts = (lease.spec.leaseDurationSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
  return now.getTime() <= renewed + lasts ? holder : undefined;
}

/** RFC 3339 with microseconds, as Lease's MicroTime fields want. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/**
 * Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it: take the lease when it
 * is free or expired, renew it while leading, and stop leading as soon as a renewal fails.
 */
export class LeaderElector {
  private timer?: NodeJS.Timeout;
  private readonly leaseSeconds: number;
  private readonly renewSeconds: number;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaderElectionOptions,
  ) {
    this.leaseSeconds = options.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
    this.renewSeconds = options.renewSeconds ?? 5;
  }

  private ref() {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      name: this.options.name,
      namespace: this.options.namespace,
    };
  }

  /** One attempt to take or renew the lease; true while this process holds it. */
  async tryAcquireOrRenew(now = new Date()): Promise<boolean> {
    const current = await this.client.get<Lease>(this.ref());
    const spec = {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: this.leaseSeconds,
      renewTime: microTime(now),
    };
    if (!current) {
      try {
        await this.client.create({
          ...this.ref(),
          metadata: { name: this.options.name, namespace: this.options.namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch (e) {
        if (e instanceof KubeApiError && e.status === 409) return false;
        throw e;
      }
    }
    const held = current.spec.holderIdentity === this.options.identity;
    const renewed = Date.parse(current.spec.renewTime ?? '1970-01-01T00:00:00Z');
    const expired = now.getTime() > renewed + (current.spec.leaseDurationSeconds ?? this.leaseSeconds) * 1000;
    if (!held && !expired) return false;
    try {
      await this.client.replace({
        ...current,
        ...this.ref(),
        spec: {
          ...current.spec,
          ...spec,
          ...(held ? {} : { acquireTime: microTime(now), leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1 }),
        },
      });
      return true;
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 409) return false;
      throw e;
    }
  }

  /** Waits until this process leads, then keeps renewing; `onLost` is called if a renewal fails. */
  async lead(onLost: () => void, log: (line: string) => void = () => {}, signal?: AbortSignal): Promise<void> {
    while (!signal?.aborted && !(await this.tryAcquireOrRenew().catch(() => false))) {
      await new Promise((r) => setTimeout(r, this.renewSeconds * 1000));
    }
    log(`leading as ${this.options.identity} (Lease ${this.options.namespace}/${this.options.name})`);
    this.timer = setInterval(() => {
      void this.tryAcquireOrRenew()
        .catch(() => false)
        .then((ok) => {
          if (!ok) {
            this.stop();
            onLost();
          }
        });
    }, this.renewSeconds * 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
