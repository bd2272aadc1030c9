import { isRefusedGrant } from './pipedrive.client';

describe('isRefusedGrant (a refresh token Pipedrive will never take again)', () => {
  it.each([
    [{ error: 'invalid_grant', error_description: 'Invalid grant: refresh_token is invalid' }],
    [{ error: 'Invalid grant: refresh_token is invalid' }],
    [{ success: false, message: 'Invalid grant: refresh token not found' }],
  ])('%j is refused for good', (body) => {
    expect(isRefusedGrant(body)).toBe(true);
  });

  it.each([
    [{ error: 'invalid_client', error_description: 'Invalid client credentials' }],
    [{ error: 'server_error', error_description: 'The grant could not be checked: invalid_grant lookup timed out' }],
    [{}],
  ])('%j is not (the app’s set-up, or a passing failure)', (body) => {
    expect(isRefusedGrant(body)).toBe(false);
  });
});
