import { readFileSync } from 'node:fs';
import { round } from './stats';

/** Microseconds so far, from one of Linux's pressure stall files, or null where the kernel has none. */
function stallTotalUs(resource: 'io' | 'cpu', line: 'some' | 'full'): number | null {
  try {
    const text = readFileSync(`/proc/pressure/${resource}`, 'utf8');
    const match = new RegExp(`^${line} .*total=(\\d+)`, 'm').exec(text);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

interface Second {
  /** Time every task waiting on I/O was stalled on it, ms (`full`: no task could run meanwhile). */
  ioFullMs: number;
  /** Time some task waited for a CPU, ms. */
  cpuSomeMs: number;
}

/**
 * The machine's stalls per second of a run, from Linux's pressure stall information: whether a slow second was the
 * whole machine waiting on its disk or its cores, rather than the code under test.
 */
export class PressureSampler {
  private readonly seconds = new Map<number, Second>();
  private timer: NodeJS.Timeout | undefined;
  private last: { io: number; cpu: number } | null = null;
  private origin = 0;

  start(origin: number): void {
    this.origin = origin;
    this.seconds.clear();
    this.last = this.read();
    clearInterval(this.timer);
    if (this.last) this.timer = setInterval(() => this.sample(), 100);
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }

  /** Seconds since the origin, with their stalls. */
  at(second: number): Second {
    return this.seconds.get(second) ?? { ioFullMs: 0, cpuSomeMs: 0 };
  }

  summary(): { ioFullMs: number; ioFullWorstSecondMs: number; cpuSomeMs: number; cpuSomeWorstSecondMs: number } | 'not available' {
    if (!this.last) return 'not available';
    const all = [...this.seconds.values()];
    return {
      ioFullMs: round(all.reduce((sum, second) => sum + second.ioFullMs, 0), 0),
      ioFullWorstSecondMs: round(Math.max(0, ...all.map((second) => second.ioFullMs)), 0),
      cpuSomeMs: round(all.reduce((sum, second) => sum + second.cpuSomeMs, 0), 0),
      cpuSomeWorstSecondMs: round(Math.max(0, ...all.map((second) => second.cpuSomeMs)), 0),
    };
  }

  private read(): { io: number; cpu: number } | null {
    const io = stallTotalUs('io', 'full');
    const cpu = stallTotalUs('cpu', 'some');
    return io === null || cpu === null ? null : { io, cpu };
  }

  private sample(): void {
    const now = this.read();
    if (!now || !this.last) return;
    const second = Math.floor((Date.now() - this.origin) / 1000);
    const entry = this.at(second);
    entry.ioFullMs += (now.io - this.last.io) / 1000;
    entry.cpuSomeMs += (now.cpu - this.last.cpu) / 1000;
    this.seconds.set(second, entry);
    this.last = now;
  }
}
