import type { ApiError } from '../common/api-error';
import { PipedriveApiError, PipedriveRateLimitedError } from '../pipedrive/pipedrive.errors';
import { panelPipedriveError } from './panel-access.service';

/** What the panel receives: the status and the JSON error body. */
function answer(error: ApiError | null) {
  return error && { status: error.getStatus(), ...(error.getResponse() as { error: { code: string; message: string } }).error };
}

describe('panelPipedriveError', () => {
  it('tells a user of a spent rate limit when to try again, in minutes, not as a timestamp', () => {
    expect(answer(panelPipedriveError(new PipedriveRateLimitedError(new Date(Date.now() + 90_000)), 'reading the deal'))).toEqual({
      status: 502,
      code: 'pipedrive_unavailable',
      message: "Pipedrive is busy: this company's request limit is used up for now. Try again in 2 minutes.",
    });
    expect(answer(panelPipedriveError(new PipedriveRateLimitedError(new Date(Date.now() + 5_000)), 'reading the deal'))!.message).toMatch(/Try again in a minute\.$/);
  });

  it('keeps the other answers: hidden deal 403, Pipedrive down 502, anything else not its business', () => {
    expect(answer(panelPipedriveError(new PipedriveApiError('forbidden', 403, false), 'reading the deal'))).toMatchObject({ status: 403, code: 'deal_not_visible' });
    expect(answer(panelPipedriveError(new PipedriveApiError('HTTP 503', 503, true), 'reading the deal'))).toMatchObject({ status: 502, code: 'pipedrive_unavailable' });
    expect(panelPipedriveError(new Error('boom'), 'reading the deal')).toBeNull();
  });
});
