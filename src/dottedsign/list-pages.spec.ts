import { ListPages, type VendorPageSize } from './dottedsign.client';

describe('ListPages (DottedSign lists, pagination shape unverified)', () => {
  const items = (from: number, count: number, extra: Record<string, unknown> = {}) => Array.from({ length: count }, (_, index) => ({ task_id: from + index, ...extra }));
  /** Feeds pages in turn, as the client does; answers how many pages were read and how many items kept. */
  const follow = (pages: Array<Record<string, unknown> & { tasks: Array<Record<string, unknown>> }>, vendorPageSize: VendorPageSize = { value: null }) => {
    const list = new ListPages(vendorPageSize);
    let kept = 0;
    let page = 0;
    for (const data of pages) {
      page += 1;
      const fresh = list.fresh(data.tasks);
      kept += fresh.length;
      if (list.ended(data, page, data.tasks.length, fresh.length)) break;
    }
    return { read: page, kept };
  };

  it('trusts a page count over the page length: a page of 20 when 50 were asked for is not the last of 3', () => {
    expect(follow([{ tasks: items(0, 20), total_pages: 3 }, { tasks: items(20, 20), total_pages: 3 }, { tasks: items(40, 5), total_pages: 3 }, { tasks: items(99, 1) }])).toEqual({ read: 3, kept: 45 });
    expect(follow([{ tasks: items(0, 20), pagination: { total: 45, per_page: 20 } }, { tasks: items(20, 20), pagination: { total: 45, per_page: 20 } }, { tasks: items(40, 5), pagination: { total: 45, per_page: 20 } }])).toEqual({ read: 3, kept: 45 });
    expect(follow([{ tasks: items(0, 50), meta: { total_pages: '1' } }, { tasks: items(50, 1) }])).toEqual({ read: 1, kept: 50 });
  });

  it('takes empty or zero counts for none', () => {
    expect(follow([{ tasks: items(0, 50), pagination: { total: null, per_page: 50 } }, { tasks: items(50, 10), pagination: { total: '', per_page: 50 } }])).toEqual({ read: 2, kept: 60 });
    expect(follow([{ tasks: items(0, 50), total_pages: 0 }, { tasks: items(50, 10), total_pages: 0 }])).toEqual({ read: 2, kept: 60 });
  });

  it('without counts, a full page is not the last, and a shorter one after it is', () => {
    expect(follow([{ tasks: items(0, 50) }, { tasks: items(50, 49) }, { tasks: items(99, 1) }])).toEqual({ read: 2, kept: 99 });
  });

  it('without counts, a short first page may be the vendor\'s own page size: the next is read, and the size is remembered', () => {
    const vendorPageSize: VendorPageSize = { value: null };
    // DottedSign giving 20 a page: read until a page is shorter than that.
    expect(follow([{ tasks: items(0, 20) }, { tasks: items(20, 20) }, { tasks: items(40, 5) }, { tasks: items(99, 1) }], vendorPageSize)).toEqual({ read: 3, kept: 45 });
    expect(vendorPageSize.value).toBe(20);
    // A later list ends on its first page shorter than 20, with no call more.
    expect(follow([{ tasks: items(0, 7) }, { tasks: items(99, 1) }], vendorPageSize)).toEqual({ read: 1, kept: 7 });
    // Not knowing the size, the whole list on one short page costs one call more.
    expect(follow([{ tasks: items(0, 7) }, { tasks: [] }, { tasks: items(99, 1) }])).toEqual({ read: 2, kept: 7 });
    // A full page of ours shows DottedSign gives what is asked.
    const honoured: VendorPageSize = { value: null };
    follow([{ tasks: items(0, 50) }, { tasks: items(50, 3) }], honoured);
    expect(follow([{ tasks: items(0, 7) }, { tasks: items(99, 1) }], honoured)).toEqual({ read: 1, kept: 7 });
  });

  it('an item seen again on the next page (the list moved while paging) does not end it early', () => {
    expect(follow([{ tasks: items(0, 20) }, { tasks: items(19, 20) }, { tasks: items(39, 6) }, { tasks: items(99, 1) }])).toEqual({ read: 3, kept: 45 });
  });

  it('a page with nothing new ends the list: empty, or the same items again (the page number ignored), told apart by id', () => {
    expect(follow([{ tasks: [], total_pages: 9 }, { tasks: items(0, 1) }])).toEqual({ read: 1, kept: 0 });
    expect(follow([{ tasks: items(0, 20, { updated_at: 1 }) }, { tasks: items(0, 20, { updated_at: 2 }) }, { tasks: items(20, 1) }])).toEqual({ read: 2, kept: 20 });
  });
});
