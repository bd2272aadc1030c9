import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { JobQueue } from '../jobs/job-queue.service';

type Check = 'ok' | 'failing' | 'pending';

@Controller()
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly jobs: JobQueue,
  ) {}

  @Get('healthz')
  @HttpCode(200)
  liveness() {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readiness(@Res({ passthrough: true }) response: FastifyReply) {
    const checks: Record<string, Check> = {
      database: await this.dataSource
        .query('SELECT 1')
        .then((): Check => 'ok')
        .catch((): Check => 'failing'),
      migrations: await this.dataSource
        .showMigrations()
        .then((pending): Check => (pending ? 'pending' : 'ok'))
        .catch((): Check => 'failing'),
      queue: this.jobs.isStarted() ? 'ok' : 'failing',
    };
    const ready = Object.values(checks).every((check) => check === 'ok');
    response.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not_ready', checks };
  }
}
