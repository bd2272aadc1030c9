import { sanitizeFileName } from './dottedsign.client';

const DOTTEDSIGN_FILE_NAME = /^(?!.*["*:<>?/\\|~#%&{}])[^.].*$/;

describe('sanitizeFileName', () => {
  it.each([
    ['Acme: 50% off {Q3} #1 <draft>', 'Acme 50 off Q3 1 draft'],
    ['...hidden', 'hidden'],
    ['a/b\\c|d~e&f', 'a b c d e f'],
    ['', 'Contract'],
    ['"***"', 'Contract'],
    ['Línea 1\nLínea 2', 'Línea 1 Línea 2'],
  ])('%j → %j', (title, expected) => {
    const name = sanitizeFileName(title);
    expect(name).toBe(expected);
    expect(name).toMatch(DOTTEDSIGN_FILE_NAME);
  });

  it('keeps names within 255 characters', () => {
    const name = sanitizeFileName('x'.repeat(400));
    expect(name).toHaveLength(255);
    expect(name).toMatch(DOTTEDSIGN_FILE_NAME);
  });
});
