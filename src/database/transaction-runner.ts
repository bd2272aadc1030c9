import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/** A unit of work: the transaction's manager plus callbacks that run only once it has committed. */
export interface Tx {
  manager: EntityManager;
  afterCommit(callback: () => void): void;
}

@Injectable()
export class TransactionRunner {
  constructor(private readonly dataSource: DataSource) {}

  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const callbacks: Array<() => void> = [];
    const result = await this.dataSource.transaction((manager) =>
      work({ manager, afterCommit: (callback) => callbacks.push(callback) }),
    );
    for (const callback of callbacks) callback();
    return result;
  }
}
