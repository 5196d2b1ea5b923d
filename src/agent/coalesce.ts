/**
 * A pass that runs whenever asked, one at a time: asks that come while a pass runs coalesce into one more pass
 * after it (with the latest argument), so a burst of changes costs at most two passes and none is lost. The
 * agent's reconcile, its endpoint publisher and the lab kubelet are level-based loops of this shape.
 */
export class CoalescedPass<T = void> {
  /** Set before a pass starts: a pass may ask again synchronously (a watch it started calling back). */
  private active = false;
  private running: Promise<void> | null = null;
  private next: { arg: T } | null = null;

  /**
   * `pass` does the work; it returns `'stop'` to end this series of passes (a failure it retries on its own
   * timer), after which the next ask starts a new one. `stopped` ends everything.
   */
  constructor(
    private readonly pass: (arg: T) => Promise<undefined | 'stop'>,
    private readonly stopped: () => boolean,
  ) {}

  /** Asks for a pass; never blocks. */
  request(arg: T): void {
    if (this.stopped()) return;
    if (this.active) {
      this.next = { arg };
      return;
    }
    this.active = true;
    this.running = this.loop({ arg });
  }

  /** Resolves when no pass runs or waits. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(first: { arg: T }): Promise<void> {
    try {
      let next: { arg: T } | null = first;
      while (next && !this.stopped()) {
        this.next = null;
        if ((await this.pass(next.arg)) === 'stop') break;
        next = this.next;
      }
    } finally {
      this.active = false;
      this.running = null;
    }
  }
}
