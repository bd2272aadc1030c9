import { type ChildProcess, fork } from 'node:child_process';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { percentile } from '../bench/support/stats';

/** What the balancer saw of the apps: from forwarding a request to the upstream's answer headers. */
export interface BalancerStats {
  answered: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  overASecond: number;
  /** The balancer process's own event-loop delay, which its figures include. */
  loopDelayP99Ms: number;
}

type Command = { type: 'upstreams'; urls: string[] } | { type: 'stats' };
type Reply = { type: 'listening'; url: string } | { type: 'upstreams' } | { type: 'stats'; stats: BalancerStats };

/**
 * The load balancer in front of several app processes, as in a deployment: round robin; a request whose upstream
 * refuses the connection (the process is down) goes to the next one, since it never reached an app; a request
 * that dies mid-way (the process was killed under it) ends with a dropped connection, never a made-up 5xx, so
 * the sender sees what it would see from the dead process and retries. It runs in a process of its own: in the
 * drill's process, which also runs both simulators and the load, its share of that event loop's lag was counted
 * as the apps' answer time.
 */
class Balancer {
  upstreams: string[] = [];
  private next = 0;
  private readonly answerMs: number[] = [];
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });

  constructor() {
    this.loopDelay.enable();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const first = this.next++ % Math.max(1, this.upstreams.length);
    for (let tried = 0; tried < this.upstreams.length; tried += 1) {
      const upstream = new URL(this.upstreams[(first + tried) % this.upstreams.length]);
      const started = performance.now();
      const outcome = await new Promise<'answered' | 'refused' | 'died'>((resolve) => {
        const forwarded = request(
          { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, 'content-length': String(body.length) } },
          (answer) => {
            this.answerMs.push(performance.now() - started);
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            answer.on('end', () => resolve('answered'));
            answer.on('error', () => resolve('died'));
          },
        );
        forwarded.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED' && !res.headersSent ? 'refused' : 'died'));
        forwarded.end(body);
      });
      if (outcome === 'answered') return;
      if (outcome === 'died') break;
    }
    res.socket?.destroy();
  }

  stats(): BalancerStats {
    return {
      answered: this.answerMs.length,
      p50Ms: Math.round(percentile(this.answerMs, 50) || 0),
      p99Ms: Math.round(percentile(this.answerMs, 99) || 0),
      maxMs: Math.round(this.answerMs.reduce((max, ms) => Math.max(max, ms), 0)),
      overASecond: this.answerMs.filter((ms) => ms >= 1000).length,
      loopDelayP99Ms: Math.round(this.loopDelay.percentile(99) / 1e6),
    };
  }
}

/** The drill's handle on the balancer process. */
export class LoadBalancer {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(): Promise<LoadBalancer> {
    const child = fork(__filename, [], { execArgv: ['--require', 'ts-node/register/transpile-only'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const listening = await reply(child, 'listening');
    return new LoadBalancer(child, listening.url);
  }

  async setUpstreams(urls: string[]): Promise<void> {
    this.child.send({ type: 'upstreams', urls } satisfies Command);
    await reply(this.child, 'upstreams');
  }

  async stats(): Promise<BalancerStats> {
    this.child.send({ type: 'stats' } satisfies Command);
    return (await reply(this.child, 'stats')).stats;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill();
    await exited;
  }
}

function reply<T extends Reply['type']>(child: ChildProcess, type: T): Promise<Extract<Reply, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`load balancer: no '${type}' answer within 30 s`)), 30_000);
    const onMessage = (message: Reply) => {
      if (message.type !== type) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message as Extract<Reply, { type: T }>);
    };
    child.on('message', onMessage);
  });
}

if (require.main === module) {
  const balancer = new Balancer();
  const server: Server = createServer((req, res) => void balancer.handle(req, res));
  server.listen(0, '127.0.0.1', () => {
    process.send!({ type: 'listening', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } satisfies Reply);
  });
  process.on('message', (command: Command) => {
    if (command.type === 'upstreams') {
      balancer.upstreams = command.urls;
      process.send!({ type: 'upstreams' } satisfies Reply);
    } else {
      process.send!({ type: 'stats', stats: balancer.stats() } satisfies Reply);
    }
  });
  process.on('disconnect', () => process.exit(0));
}
