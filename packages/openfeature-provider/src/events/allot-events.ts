/**
 * The provider's own events (exposures, tracking, sticky-store health). Listeners run
 * synchronously inside evaluations, so an exception in one is caught and logged, never thrown
 * into the evaluation.
 */
import { EventEmitter } from 'node:events';
import { DefaultLogger, type Logger } from '@openfeature/server-sdk';
import type { AllotEvents } from '../types.js';

export class AllotEventEmitter extends EventEmitter<AllotEvents> {
  /** `logger` receives listeners' exceptions; default OpenFeature's (the console). */
  constructor(private readonly logger: Logger = new DefaultLogger()) {
    super();
  }

  /** Emits without letting a listener's exception escape; returns whether anyone listened. */
  safeEmit<K extends keyof AllotEvents>(event: K, ...args: AllotEvents[K]): boolean {
    if (this.listenerCount(event) === 0) return false;
    try {
      // EventEmitter's typing of rest arguments cannot follow K; the signature above checks them.
      return (this.emit as (e: K, ...a: AllotEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.logger.error(`allot: a listener of "${event}" threw:`, error);
      return true;
    }
  }
}
