/**
 * How much of the server's time one caller may spend on previews (`?validateOnly=true`):
 * a preview runs the allocator and the impact walk, and a read token is enough to ask for
 * one, so an application's read token must not be able to keep the server busy. Each caller
 * (bearer token, or address without one) has a budget of server milliseconds that refills
 * at `msPerSecond` up to `burstMs`; every preview is charged the time it took. A caller whose
 * budget is spent is answered 429 `RESOURCE_EXHAUSTED` with `Retry-After` (whole seconds
 * until the budget is positive again) before any work is done.
 */
import { ApiError } from './api-error.js';

export interface PreviewBudgetOptions {
  /** Server time a caller's previews may take per second, on average; default 250 (a quarter of one core). */
  readonly msPerSecond?: number;
  /** Most server time a caller may spend in one burst; default 2,000. */
  readonly burstMs?: number;
}

interface Account {
  /** Milliseconds left (negative after a preview that took more than was left). */
  balance: number;
  /** When `balance` was last brought up to date (performance.now()). */
  at: number;
}

/** Callers remembered at most; those whose budget is full again are forgotten first. */
const MAX_CALLERS = 10_000;

export class PreviewBudget {
  readonly msPerSecond: number;
  readonly burstMs: number;
  private readonly accounts = new Map<string, Account>();

  constructor(options: PreviewBudgetOptions = {}) {
    this.msPerSecond = options.msPerSecond ?? 250;
    this.burstMs = options.burstMs ?? 2_000;
    if (!(this.msPerSecond > 0) || !(this.burstMs > 0)) throw new RangeError('previewBudget.msPerSecond and previewBudget.burstMs must be positive');
  }

  /** Throws 429 RESOURCE_EXHAUSTED (with Retry-After) when `caller` has spent its budget. */
  admit(caller: string, now: number = performance.now()): void {
    const account = this.refreshed(caller, now);
    if (account.balance > 0) return;
    const seconds = Math.max(1, Math.ceil((-account.balance + 1) / this.msPerSecond));
    throw new ApiError(
      429,
      'RESOURCE_EXHAUSTED',
      `too many previews: this token's previews (?validateOnly=true) have used their share of the server's time ` +
        `(${this.msPerSecond} ms per second, bursts up to ${this.burstMs} ms); retry after ${seconds} s`,
      { field: 'validateOnly', headers: { 'retry-after': String(seconds) } },
    );
  }

  /** Charges `caller` for a preview that took `ms`. */
  charge(caller: string, ms: number, now: number = performance.now()): void {
    this.refreshed(caller, now).balance -= ms;
  }

  private refreshed(caller: string, now: number): Account {
    let account = this.accounts.get(caller);
    if (account === undefined) {
      if (this.accounts.size >= MAX_CALLERS) this.forgetFull(now);
      account = { balance: this.burstMs, at: now };
      this.accounts.set(caller, account);
      return account;
    }
    account.balance = Math.min(this.burstMs, account.balance + ((now - account.at) * this.msPerSecond) / 1_000);
    account.at = now;
    return account;
  }

  private forgetFull(now: number): void {
    for (const [caller, a] of this.accounts) {
      if (a.balance + ((now - a.at) * this.msPerSecond) / 1_000 >= this.burstMs) this.accounts.delete(caller);
    }
    // Every caller is still in debt: forget the oldest, which loses it only its debt.
    if (this.accounts.size >= MAX_CALLERS) this.accounts.delete(this.accounts.keys().next().value!);
  }
}
