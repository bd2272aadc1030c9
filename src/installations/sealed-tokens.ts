/**
 * Where each sealed token lives. A token is sealed for its place (SecretBox binds it), so a value copied into
 * another row or column does not open.
 */
export type TokenColumn = 'access_token' | 'refresh_token';

export const installationToken = (companyId: string, userId: string, column: TokenColumn): string =>
  `installations/${companyId}/${userId}/${column}`;

export const connectionToken = (companyId: string, column: TokenColumn): string => `esign_connections/${companyId}/${column}`;

/** Every sealed column, by table: the table's key, the columns naming a row's owner, and the place of its values. */
export const SEALED_TABLES = [
  {
    table: 'installations',
    key: 'id',
    owner: ['company_id', 'user_id'],
    columns: ['access_token', 'refresh_token'],
    place: (row: Record<string, string | null>, column: TokenColumn) => installationToken(row.company_id!, row.user_id!, column),
  },
  {
    table: 'esign_connections',
    key: 'company_id',
    owner: ['company_id'],
    columns: ['access_token', 'refresh_token'],
    place: (row: Record<string, string | null>, column: TokenColumn) => connectionToken(row.company_id!, column),
  },
] as const;
