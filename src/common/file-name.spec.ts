import { fileNameFrom } from './file-name';

const DOTTEDSIGN_FILE_NAME = /^(?!.*["*:<>?/\\|~#%&{}])[^.].*$/;

describe('fileNameFrom', () => {
  it.each([
    ['Acme: 50% off {Q3} #1 <draft>', 'Acme 50 off Q3 1 draft'],
    ['...hidden', 'hidden'],
    ['a/b\\c|d~e&f', 'a b c d e f'],
    ['', 'Contract'],
    ['"***"', 'Contract'],
    ['Línea 1\nLínea 2', 'Línea 1 Línea 2'],
    ['Tab\there\r\nand a lone \ud800 surrogate', 'Tab here and a lone surrogate'],
  ])('%j → %j', (title, expected) => {
    const name = fileNameFrom(title, 255);
    expect(name).toBe(expected);
    expect(name).toMatch(DOTTEDSIGN_FILE_NAME);
  });

  it('keeps names within the length without cutting a character in two', () => {
    const name = fileNameFrom('x'.repeat(400), 255);
    expect(name).toHaveLength(255);
    expect(name).toMatch(DOTTEDSIGN_FILE_NAME);
    const emoji = fileNameFrom(`${'x'.repeat(149)}😀😀`, 150);
    expect(emoji).toBe('x'.repeat(149));
    expect(emoji.isWellFormed()).toBe(true);
  });
});
