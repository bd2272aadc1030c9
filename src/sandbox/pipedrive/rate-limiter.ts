import { utcDay } from './timestamps';

export interface RateLimitSettings {
  burstPerWindow: number;
  burstWindowMs: number;
  /** Fixed budget per company per day; unset → tokensPerSeat × plan multiplier × seats. */
  dailyBudget?: number;
  dailyTokensPerSeat: number;
}

export interface CompanyQuota {
  companyId: number;
  seats: number;
  planMultiplier: number;
}

export interface RateLimitHeaders {
  'x-ratelimit-limit': string;
  'x-ratelimit-remaining': string;
  'x-ratelimit-reset': string;
}

export type RateDecision = { allowed: true; headers: RateLimitHeaders } | { allowed: false; reason: 'burst' | 'budget'; headers: RateLimitHeaders };

export interface BudgetStatus {
  day: string;
  dailyBudget: number;
  spent: number;
  remaining: number;
}

interface DailyLedger {
  day: string;
  budget: number;
  spent: number;
}

/**
 * Two limits, as in the reference: a rolling 2-second burst window per token, and a daily token budget per
 * company that resets at midnight UTC. Only admitted calls count against either.
 */
export class RateLimiter {
  private readonly windows = new Map<string, number[]>();
  private readonly ledgers = new Map<number, DailyLedger>();

  constructor(private readonly settings: RateLimitSettings) {}

  admit(token: string, quota: CompanyQuota, cost: number): RateDecision {
    const now = Date.now();
    const recent = this.recentCalls(token, now);
    if (recent.length >= this.settings.burstPerWindow) {
      return { allowed: false, reason: 'burst', headers: this.headers(recent, now, 0) };
    }
    const ledger = this.ledger(quota, new Date(now));
    if (ledger.spent + cost > ledger.budget) {
      // The rate-limit headers describe the burst window only, on this answer too: nothing in them says how long
      // the budget stays spent (until midnight UTC).
      return { allowed: false, reason: 'budget', headers: this.headers(recent, now, this.settings.burstPerWindow - recent.length) };
    }
    recent.push(now);
    ledger.spent += cost;
    return { allowed: true, headers: this.headers(recent, now, this.settings.burstPerWindow - recent.length) };
  }

  budgetStatus(quota: CompanyQuota): BudgetStatus {
    const ledger = this.ledger(quota, new Date());
    return { day: ledger.day, dailyBudget: ledger.budget, spent: ledger.spent, remaining: Math.max(0, ledger.budget - ledger.spent) };
  }

  setRemainingBudget(quota: CompanyQuota, remaining: number): BudgetStatus {
    const ledger = this.ledger(quota, new Date());
    ledger.spent = Math.max(0, ledger.budget - remaining);
    return this.budgetStatus(quota);
  }

  /** Forgets burst windows and daily spending (of one company, or all). */
  reset(companyId?: number): void {
    if (companyId === undefined) {
      this.ledgers.clear();
      this.windows.clear();
    } else {
      this.ledgers.delete(companyId);
    }
  }

  private recentCalls(token: string, now: number): number[] {
    const recent = (this.windows.get(token) ?? []).filter((at) => at > now - this.settings.burstWindowMs);
    this.windows.set(token, recent);
    return recent;
  }

  private ledger(quota: CompanyQuota, now: Date): DailyLedger {
    const day = utcDay(now);
    const existing = this.ledgers.get(quota.companyId);
    if (existing && existing.day === day) return existing;
    const budget = this.settings.dailyBudget ?? this.settings.dailyTokensPerSeat * quota.planMultiplier * Math.max(1, quota.seats);
    const fresh = { day, budget, spent: 0 };
    this.ledgers.set(quota.companyId, fresh);
    return fresh;
  }

  /** x-ratelimit-reset: whole seconds until the oldest call leaves the rolling window (unit unverified). */
  private headers(recent: number[], now: number, remaining: number): RateLimitHeaders {
    const oldest = recent[0] ?? now;
    const resetSeconds = Math.max(1, Math.ceil((oldest + this.settings.burstWindowMs - now) / 1000));
    return {
      'x-ratelimit-limit': String(this.settings.burstPerWindow),
      'x-ratelimit-remaining': String(Math.max(0, remaining)),
      'x-ratelimit-reset': String(resetSeconds),
    };
  }
}
