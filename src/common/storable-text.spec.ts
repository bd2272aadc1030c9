import { parseStorableJson, storableStrings } from './storable-text';

describe('storable text', () => {
  it('mends U+0000 and unpaired surrogates in strings and keys, at any depth, and keeps everything else', () => {
    const json = '{"title":"a\\u0000b","lone":"x\\ud800y","pair":"\\ud83d\\ude00","escaped":"\\\\u0000","k\\u0000":[1,"\\udc00",{"deep":"\\u0000"}],"n":null}';
    expect(parseStorableJson(json)).toEqual({
      title: 'a\uFFFDb',
      lone: 'x\uFFFDy',
      pair: '\u{1F600}',
      escaped: '\\u0000',
      'k\uFFFD': [1, '\uFFFD', { deep: '\uFFFD' }],
      n: null,
    });
  });

  it('leaves an ordinary document as JSON.parse returns it, and survives hostile nesting', () => {
    expect(parseStorableJson('{"a":[1,{"b":"c"}]}')).toEqual({ a: [1, { b: 'c' }] });
    const deep = `${'['.repeat(5000)}"\\u0000"${']'.repeat(5000)}`;
    let value = parseStorableJson(deep);
    while (Array.isArray(value)) value = value[0];
    expect(value).toBe('\uFFFD');
    expect(() => parseStorableJson('{"a":')).toThrow(SyntaxError);
  });

  it('mends a form as decoded from its query string', () => {
    expect(storableStrings({ code: 'a\u0000', state: ['b', 'c\ud800'] })).toEqual({ code: 'a\uFFFD', state: ['b', 'c\uFFFD'] });
  });
});
