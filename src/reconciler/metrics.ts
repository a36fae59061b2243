/**
 * Prometheus metrics in the text exposition format (0.0.4): counters and histograms that code updates, and gauges
 * read when scraped. Small on purpose: what `stepwise controller` reports, no client library.
 */

type Labels = Readonly<Record<string, string>>;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  lines(): string[];
}

const escapeValue = (v: string) => v.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');
const labelText = (labels: Labels) => {
  const entries = Object.entries(labels);
  return entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',')}}` : '';
};
const keyOf = (labels: Labels) => JSON.stringify(Object.entries(labels).sort());
const number = (n: number) => (Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN');

export class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  inc(labels: Labels = {}, by = 1): void {
    const key = keyOf(labels);
    const entry = this.values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.values.set(key, entry);
  }

  lines(name: string): string[] {
    return [...this.values.values()].map(({ labels, value }) => `${name}${labelText(labels)} ${number(value)}`);
  }
}

export class Histogram {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(readonly buckets: readonly number[]) {}

  observe(value: number, labels: Labels = {}): void {
    const key = keyOf(labels);
    const s = this.series.get(key) ?? { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
    this.buckets.forEach((le, i) => {
      if (value <= le) s.counts[i] = (s.counts[i] ?? 0) + 1;
    });
    s.sum += value;
    s.count++;
    this.series.set(key, s);
  }

  lines(name: string): string[] {
    return [...this.series.values()].flatMap(({ labels, counts, sum, count }) => [
      ...this.buckets.map((le, i) => `${name}_bucket${labelText({ ...labels, le: number(le) })} ${counts[i]}`),
      `${name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`,
      `${name}_sum${labelText(labels)} ${number(sum)}`,
      `${name}_count${labelText(labels)} ${count}`,
    ]);
  }
}

/** Seconds, from a millisecond pass to a ten-minute step: client-go's and controller-runtime's range. */
export const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Every metric of a process, exposed together. */
export class Registry {
  private readonly families: Family[] = [];

  counter(name: string, help: string): Counter {
    const counter = new Counter();
    this.families.push({ name, help, type: 'counter', lines: () => counter.lines(name) });
    return counter;
  }

  histogram(name: string, help: string, buckets: readonly number[] = SECONDS_BUCKETS): Histogram {
    const histogram = new Histogram(buckets);
    this.families.push({ name, help, type: 'histogram', lines: () => histogram.lines(name) });
    return histogram;
  }

  /** A gauge read when scraped: each `[labels, value]` the function returns is one series. */
  gauge(name: string, help: string, read: () => readonly (readonly [Labels, number])[]): void {
    this.families.push({
      name,
      help,
      type: 'gauge',
      lines: () => read().map(([labels, value]) => `${name}${labelText(labels)} ${number(value)}`),
    });
  }

  /** The text exposition format. */
  expose(): string {
    return this.families
      .flatMap((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.lines()])
      .map((line) => `${line}\n`)
      .join('');
  }
}
