/**
 * Where the provider logs. The `logger` option wins; without one, the logger the OpenFeature
 * SDK passes with every evaluation (the client's or the global one, as set with `setLogger`),
 * so the provider logs where the SDK does; before the first evaluation, OpenFeature's own
 * default (errors and warnings to the console, as the SDK does until told otherwise).
 * A logger that throws is not allowed to break an evaluation or a background task.
 */
import { DefaultLogger, type Logger } from '@openfeature/server-sdk';

type Level = keyof Logger;

export class ProviderLogger implements Logger {
  /** The logger the SDK passed with the latest evaluation. */
  private fromSdk: Logger;

  constructor(private readonly own: Logger | undefined) {
    this.fromSdk = new DefaultLogger();
  }

  /** Remembers the SDK's logger (called on every evaluation: one field write, no allocation). */
  sdkLogger(logger: Logger): void {
    this.fromSdk = logger;
  }

  error(...args: unknown[]): void {
    this.log('error', args);
  }

  warn(...args: unknown[]): void {
    this.log('warn', args);
  }

  info(...args: unknown[]): void {
    this.log('info', args);
  }

  debug(...args: unknown[]): void {
    this.log('debug', args);
  }

  private log(level: Level, args: unknown[]): void {
    try {
      (this.own ?? this.fromSdk)[level](...args);
    } catch {
      // A broken logger loses this line; it must not turn into an evaluation error.
    }
  }
}
