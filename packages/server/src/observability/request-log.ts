/**
 * One log record per request. With a pino logger (`ServerOptions.logger`, what `allot serve`
 * uses): a JSON line with `method`, `route` (the path template, so lines group by endpoint),
 * `path`, `status`, `latencyMs`, `actor` (the token's name, never the token) and `revision`
 * (the store's, null on the file store). Without one, the `log` callback gets the text line
 * it always had (`POST /v1/segments 200 12ms`), so library users see no change.
 */
import { pino, type Logger } from 'pino';

export interface RequestRecord {
  readonly method: string;
  readonly route: string | null;
  readonly path: string;
  readonly status: number;
  readonly latencyMs: number;
  readonly actor: string | null;
  readonly revision: number | null;
}

export class RequestLog {
  constructor(
    private readonly logger: Logger | undefined,
    private readonly text: (line: string) => void,
  ) {}

  request(r: RequestRecord): void {
    const path = r.path.length > 200 ? `${r.path.slice(0, 200)}…` : r.path;
    if (this.logger === undefined) {
      this.text(`${r.method} ${path} ${r.status} ${Math.round(r.latencyMs)}ms`);
      return;
    }
    const level = r.status >= 500 ? 'error' : 'info';
    this.logger[level]({ method: r.method, route: r.route, path, status: r.status, latencyMs: Math.round(r.latencyMs * 10) / 10, actor: r.actor, revision: r.revision }, 'request');
  }

  /** Something an operator should know (shutdown cutting requests, an internal error's stack). */
  notice(message: string, level: 'warn' | 'error' = 'warn'): void {
    if (this.logger === undefined) this.text(message);
    else this.logger[level](message);
  }
}

/**
 * A pino logger writing one JSON line per record to `write` (no trailing newline): ISO time,
 * level as a name, no pid or hostname (the process supervisor knows those).
 */
export function jsonLogger(write: (line: string) => void): Logger {
  return pino(
    { base: null, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    { write: (line: string) => { write(line.endsWith('\n') ? line.slice(0, -1) : line); } },
  );
}
