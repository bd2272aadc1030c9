/**
 * A file name made from a user's title: no characters file systems or the vendors refuse (`"*:<>?/\|~#%&{}`, control
 * characters, lone surrogates, leading dots), whitespace collapsed, at most `maxLength` UTF-16 units without cutting
 * a character in two. Names go out as multipart file names, where a line break or a broken character would come back
 * changed.
 */
export function fileNameFrom(title: string, maxLength: number): string {
  const cleaned = title
    .toWellFormed()
    .replace(/[\uFFFD"*:<>?/\\|~#%&{}]/g, ' ')
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '')
    .trim();
  let name = '';
  for (const character of cleaned || 'Contract') {
    if (name.length + character.length > maxLength) break;
    name += character;
  }
  return name.trim();
}
