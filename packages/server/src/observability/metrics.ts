/**
 * `GET /metrics`: Prometheus text format from prom-client, on a registry of the server's own
 * (two servers in one process never mix their numbers). Requests by route and status, write
 * latency, the store's current revision, and the notification lag a store with change
 * notifications (PostgreSQL) reports through `observeNotificationLag`.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Where the latencies of writes fall, in seconds: from a quick file write to a lock wait at the limit. */
const WRITE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface RequestObservation {
  readonly method: string;
  /** The route's path template (`/v1/segments/{segment}:allocate`), or `(unmatched)`. */
  readonly route: string;
  readonly status: number;
  readonly seconds: number;
  /** An accepted-or-refused change (not a read, not a validateOnly preview). */
  readonly write: boolean;
}

export class ServerMetrics {
  readonly registry: Registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly writes: Histogram<'route'>;
  private readonly lag: Gauge;

  constructor(revision: () => number | null) {
    this.requests = new Counter({ name: 'allot_http_requests_total', help: 'HTTP requests answered, by method, route and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
    this.writes = new Histogram({ name: 'allot_write_duration_seconds', help: 'Time to answer a write (a change, not a preview), from request to response, by route', labelNames: ['route'], buckets: WRITE_BUCKETS, registers: [this.registry] });
    new Gauge({
      name: 'allot_revision',
      help: 'The store revision served (0 on the file store, which has no revision)',
      registers: [this.registry],
      collect() {
        this.set(revision() ?? 0);
      },
    });
    this.lag = new Gauge({ name: 'allot_notification_lag_seconds', help: 'Time from a change committed by another instance to this one serving it (set by stores with change notifications; 0 on the file store)', registers: [this.registry] });
  }

  observe(o: RequestObservation): void {
    this.requests.inc({ method: o.method, route: o.route, status: String(o.status) });
    if (o.write) this.writes.observe({ route: o.route }, o.seconds);
  }

  /** For a store that learns of other instances' changes: how late it learned of the latest. */
  observeNotificationLag(seconds: number): void {
    this.lag.set(seconds);
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ text: string; contentType: string }> {
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
