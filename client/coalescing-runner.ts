// Runs an async task at most once at a time. A call made while it runs does not start a second copy:
// it schedules one more run right after, and its promise settles once that later run has finished,
// so the caller always observes a run that began after its request (re-balance, heartbeat).

export class CoalescingRunner {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  get busy(): boolean {
    return this.running !== null;
  }

  run(): Promise<void> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop();
    return this.running;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          await this.task();
        } catch (error) {
          this.onError(error);
        }
      } while (this.again);
    } finally {
      this.running = null;
    }
  }
}
