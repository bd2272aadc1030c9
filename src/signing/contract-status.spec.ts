import { applySignerEvent, mergeSigners, nextStatus } from './contract-status';

describe('nextStatus', () => {
  it('moves forward through the task life cycle', () => {
    expect(nextStatus('pending', 'waiting')).toBe('waiting');
    expect(nextStatus('draft', 'waiting')).toBe('waiting');
    expect(nextStatus('waiting', 'completed')).toBe('completed');
    expect(nextStatus('failed', 'waiting')).toBe('waiting');
  });

  it('never moves backwards on late or out-of-order events', () => {
    expect(nextStatus('completed', 'waiting')).toBe('completed');
    expect(nextStatus('voided', 'waiting')).toBe('voided');
    expect(nextStatus('waiting', 'draft')).toBe('waiting');
    expect(nextStatus('completed', 'declined')).toBe('completed');
  });

  it('lets only a discard follow a final state, and nothing follow a discard', () => {
    expect(nextStatus('completed', 'discarded')).toBe('discarded');
    expect(nextStatus('discarded', 'waiting')).toBe('discarded');
  });
});

describe('signers', () => {
  const jane = { name: 'Jane', email: 'jane@acme.com', status: 'waiting' as const, signedAt: null };

  it('applies a signature by email, case-insensitively, once', () => {
    const at = new Date('2026-01-02T03:04:05Z');
    const [signed] = applySignerEvent([jane], 'JANE@acme.com', 'signed', at);
    expect(signed).toMatchObject({ status: 'signed', signedAt: '2026-01-02T03:04:05.000Z' });
    expect(applySignerEvent([signed], 'jane@acme.com', 'viewed', new Date())[0].status).toBe('signed');
  });

  it('keeps a signer signed when the provider reports an older view', () => {
    const signed = { ...jane, status: 'signed' as const, signedAt: '2026-01-02T00:00:00Z' };
    expect(mergeSigners([signed], [{ ...jane, status: 'viewed' }])[0]).toEqual(signed);
    expect(mergeSigners([jane], [{ ...jane, status: 'viewed' }])[0].status).toBe('viewed');
  });
});
