import { ListPages } from './dottedsign.client';

describe('ListPages (DottedSign lists, pagination shape unverified)', () => {
  const items = (from: number, count: number) => Array.from({ length: count }, (_, index) => ({ task_id: from + index }));
  /** Feeds pages in turn; answers the page numbers read and the items kept. */
  const follow = (pages: Array<Record<string, unknown> & { tasks: unknown[] }>) => {
    const list = new ListPages();
    const kept: unknown[] = [];
    let page = 0;
    for (const data of pages) {
      page += 1;
      const fresh = list.fresh(data.tasks as Array<Record<string, unknown>>);
      kept.push(...fresh);
      if (list.ended(data, page, fresh.length)) break;
    }
    return { read: page, kept: kept.length };
  };

  it('trusts a page count over the page length: a page of 20 when 50 were asked for is not the last of 3', () => {
    expect(follow([{ tasks: items(0, 20), total_pages: 3 }, { tasks: items(20, 20), total_pages: 3 }, { tasks: items(40, 5), total_pages: 3 }, { tasks: items(99, 1) }])).toEqual({ read: 3, kept: 45 });
    expect(follow([{ tasks: items(0, 20), pagination: { total: 45, per_page: 20 } }, { tasks: items(20, 20), pagination: { total: 45, per_page: 20 } }, { tasks: items(40, 5), pagination: { total: 45, per_page: 20 } }])).toEqual({ read: 3, kept: 45 });
    expect(follow([{ tasks: items(0, 50), meta: { total_pages: 1 } }, { tasks: items(50, 1) }])).toEqual({ read: 1, kept: 50 });
  });

  it('without a count, a full page is not the last, and a shorter one after it is', () => {
    expect(follow([{ tasks: items(0, 50) }, { tasks: items(50, 49) }, { tasks: items(99, 1) }])).toEqual({ read: 2, kept: 99 });
  });

  it('without a count, a short first page may be the vendor\'s own page size: the next is read', () => {
    // DottedSign giving 20 a page: read until a page is shorter than that.
    expect(follow([{ tasks: items(0, 20) }, { tasks: items(20, 20) }, { tasks: items(40, 5) }, { tasks: items(99, 1) }])).toEqual({ read: 3, kept: 45 });
    // The whole list on one short page: one more call finds the end.
    expect(follow([{ tasks: items(0, 7) }, { tasks: [] }, { tasks: items(99, 1) }])).toEqual({ read: 2, kept: 7 });
  });

  it('a page with nothing new ends the list: empty, or the same page again (the page number ignored)', () => {
    expect(follow([{ tasks: [], total_pages: 9 }, { tasks: items(0, 1) }])).toEqual({ read: 1, kept: 0 });
    expect(follow([{ tasks: items(0, 7) }, { tasks: items(0, 7) }, { tasks: items(7, 1) }])).toEqual({ read: 2, kept: 7 });
  });
});
