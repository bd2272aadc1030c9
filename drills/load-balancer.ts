import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The load balancer in front of several app processes, as in a deployment: round robin; a request whose upstream
 * refuses the connection (the process is down) goes to the next one, since it never reached an app; a request
 * that dies mid-way (the process was killed under it) ends with a dropped connection, never a made-up 5xx, so
 * the sender sees what it would see from the dead process and retries.
 */
export class LoadBalancer {
  upstreams: string[] = [];
  /** Requests that got no answer because their upstream died under them. */
  dropped = 0;
  private next = 0;
  private server: Server | undefined;

  static async start(): Promise<LoadBalancer> {
    const balancer = new LoadBalancer();
    const server = createServer((req, res) => void balancer.handle(req, res));
    balancer.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return balancer;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const first = this.next++ % Math.max(1, this.upstreams.length);
    for (let tried = 0; tried < this.upstreams.length; tried += 1) {
      const upstream = new URL(this.upstreams[(first + tried) % this.upstreams.length]);
      const outcome = await new Promise<'answered' | 'refused' | 'died'>((resolve) => {
        const forwarded = request(
          { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, 'content-length': String(body.length) } },
          (answer) => {
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
    this.dropped += 1;
    res.socket?.destroy();
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
