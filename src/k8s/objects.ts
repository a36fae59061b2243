/** The minimal shape of a Kubernetes object that the pure builders read and write. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** Metadata for an object derived from another (a canary copy): same namespace, labels and annotations, new name. */
export function derivedMeta(from: ObjectMeta, name: string): ObjectMeta {
  return {
    name,
    ...(from.namespace ? { namespace: from.namespace } : {}),
    ...(from.labels ? { labels: { ...from.labels } } : {}),
    ...(from.annotations ? { annotations: { ...from.annotations } } : {}),
  };
}
