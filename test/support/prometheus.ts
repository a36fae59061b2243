import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Component, freePorts, probe, startComponent, stopComponents, waitFor } from '../testenv/process.js';

/** Debian's prometheus (`.ci/run` installs the package); a clear failure when it is missing. */
function prometheusBinary(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('prometheus is not installed: apt-get install prometheus (Debian), as .ci/run does');
  }
}

export interface RunningPrometheus {
  address: string;
  /** Resolves once Prometheus holds at least `samples` scrapes of the target. */
  scraped(samples: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus on 127.0.0.1, scraping `target` (host:port) every `scrapeSeconds`, its data in a temporary
 * directory removed on stop.
 */
export async function startPrometheus(target: string, scrapeSeconds = 1): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'stepwise-prometheus-'));
  const [port] = await freePorts(1);
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      `  scrape_interval: ${scrapeSeconds}s`,
      `  evaluation_interval: ${scrapeSeconds}s`,
      'scrape_configs:',
      '  - job_name: traffic',
      '    static_configs:',
      `      - targets: ["${target}"]`,
      '',
    ].join('\n'),
  );
  const address = `http://127.0.0.1:${port}`;
  const component: Component = startComponent(
    'prometheus',
    prometheusBinary(),
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    join(dir, 'prometheus.log'),
    false,
  );
  await waitFor('Prometheus ready', async () => (await probe(`${address}/-/ready`))?.status === 200, 30_000, component);
  const scrapes = async () => {
    const query = encodeURIComponent('count_over_time(up{job="traffic"}[1h])');
    const r = await probe(`${address}/api/v1/query?query=${query}`);
    return Number(JSON.parse(r?.body ?? '{}')?.data?.result?.[0]?.value?.[1] ?? 0);
  };
  return {
    address,
    async scraped(samples) {
      await waitFor(`${samples} scrapes`, async () => (await scrapes()) >= samples, 60_000, component);
    },
    async stop() {
      await stopComponents([component]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What the simulated ingress-nginx controller sees of the new version's requests. */
export interface CanaryTraffic {
  /** Requests per second to the canary backend; 0: none (no series change, so rates go to 0 and ratios to NaN). */
  rps: number;
  /** Share of them answered 5xx. */
  errorRatio: number;
  /** Seconds each takes. */
  latencySeconds: number;
}

/**
 * A /metrics endpoint shaped as ingress-nginx's controller exports it (`nginx_ingress_controller_requests` and
 * `…_response_duration_seconds_{sum,count}`, labelled namespace, ingress, canary and status), whose canary
 * counters grow at the rate the test sets; `exported: false` serves no such series at all (no data).
 */
export class IngressMetrics {
  traffic: CanaryTraffic = { rps: 20, errorRatio: 0, latencySeconds: 0.05 };
  exported = true;
  private readonly counts = { ok: 0, errors: 0, durationSum: 0 };
  private last = Date.now();
  private server?: Server;

  /** The namespace label; a test sets it to its own. */
  namespace = 'default';

  constructor(
    private readonly ingress: string,
    private readonly canaryService = `${ingress}-canary`,
  ) {}

  async start(): Promise<string> {
    const [port] = await freePorts(1);
    this.server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.exposition());
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    return `127.0.0.1:${port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Counters advanced to now at the current traffic, in the text format. */
  private exposition(): string {
    const now = Date.now();
    const seconds = (now - this.last) / 1000;
    this.last = now;
    const { rps, errorRatio, latencySeconds } = this.traffic;
    const requests = rps * seconds;
    this.counts.errors += requests * errorRatio;
    this.counts.ok += requests * (1 - errorRatio);
    this.counts.durationSum += requests * latencySeconds;
    if (!this.exported) return '';
    const labels = (status: string) =>
      `namespace="${this.namespace}",ingress="${this.ingress}",canary="${this.canaryService}",status="${status}"`;
    const base = `namespace="${this.namespace}",ingress="${this.ingress}",canary="${this.canaryService}"`;
    return [
      '# TYPE nginx_ingress_controller_requests counter',
      `nginx_ingress_controller_requests{${labels('200')}} ${this.counts.ok}`,
      `nginx_ingress_controller_requests{${labels('503')}} ${this.counts.errors}`,
      '# TYPE nginx_ingress_controller_response_duration_seconds histogram',
      `nginx_ingress_controller_response_duration_seconds_sum{${base}} ${this.counts.durationSum}`,
      `nginx_ingress_controller_response_duration_seconds_count{${base}} ${this.counts.ok + this.counts.errors}`,
      '',
    ].join('\n');
  }
}
