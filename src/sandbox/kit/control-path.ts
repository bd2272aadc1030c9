/** Where every simulator mounts its control API; those routes are neither logged nor faulted. */
export const CONTROL_PREFIX = '/_sim';

export function isControlPath(path: string): boolean {
  return path === CONTROL_PREFIX || path.startsWith(`${CONTROL_PREFIX}/`);
}
