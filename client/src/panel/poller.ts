/** Runs `tick` every `intervalMs` while the panel is visible; a hidden panel costs no requests. */
export function visiblePoller(tick: () => Promise<void>, intervalMs: number) {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let visible = true;
  let running = false;

  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = visible ? setTimeout(run, intervalMs) : null;
  };
  const run = async () => {
    if (running) return;
    running = true;
    try {
      await tick();
    } finally {
      running = false;
      schedule();
    }
  };

  return {
    start: schedule,
    setVisible(next: boolean) {
      if (next === visible) return;
      visible = next;
      // Coming back: refresh at once, then on the usual rhythm.
      if (visible) void run();
      else schedule();
    },
  };
}
