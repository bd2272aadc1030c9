import { isLastPage } from './dottedsign.client';

describe('isLastPage (DottedSign lists, pagination shape unverified)', () => {
  const items = (count: number) => Array.from({ length: count }, (_, index) => ({ task_id: index }));

  it('trusts a page count over the page length: a page of 20 when 50 were asked for is not the last of 3', () => {
    expect(isLastPage({ tasks: items(20), total_pages: 3 }, 1, 20)).toBe(false);
    expect(isLastPage({ tasks: items(20), pagination: { total: 45, per_page: 20 } }, 2, 20)).toBe(false);
    expect(isLastPage({ tasks: items(5), pagination: { total: 45, per_page: 20 } }, 3, 5)).toBe(true);
    expect(isLastPage({ tasks: items(50), meta: { total_pages: 2 } }, 2, 50)).toBe(true);
  });

  it('without a count, a short page is the last; an empty page always is', () => {
    expect(isLastPage({ tasks: items(50) }, 1, 50)).toBe(false);
    expect(isLastPage({ tasks: items(49) }, 1, 49)).toBe(true);
    expect(isLastPage({ tasks: [], total_pages: 9 }, 4, 0)).toBe(true);
  });
});
