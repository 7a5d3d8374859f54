// The send loop both producers run: `sync` awaits each send before the next, `async` keeps `window` sends in
// flight. Every send's latency (call to acknowledgement) goes into a histogram. Stops issuing at `count` sends or
// when `timeCapMs` has passed, then waits for the sends in flight.
import { LatencyHistogram } from './histogram.js';
import { BodyFactory, mbRate, rate, type ProducerResult } from './child-io.js';

export interface DriveOptions {
  system: string;
  mode: 'sync' | 'async';
  bodyBytes: number;
  count: number;
  window: number;
  timeCapMs: number;
  send: (body: Buffer) => Promise<unknown>;
}

export async function drive(o: DriveOptions): Promise<ProducerResult> {
  const bodies = new BodyFactory(o.bodyBytes);
  const hist = new LatencyHistogram();
  let issued = 0;
  let acked = 0;
  let failed = 0;
  let firstError: string | undefined;
  let timeCapped = false;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + o.timeCapMs;
  let lastAck = t0;

  if (o.mode === 'sync') {
    while (issued < o.count) {
      if ((issued & 63) === 0 && performance.now() > deadline) {
        timeCapped = true;
        break;
      }
      const body = bodies.make(issued++);
      const start = performance.now();
      try {
        await o.send(body);
        lastAck = performance.now();
        hist.recordMs(lastAck - start);
        acked++;
      } catch (error) {
        failed++;
        firstError ??= String((error as Error)?.message ?? error);
      }
    }
  } else {
    const window = Math.max(1, o.window);
    await new Promise<void>((resolve) => {
      let inFlight = 0;
      let stop = false;
      const settle = (): void => {
        inFlight--;
        if (!stop) pump();
        if (stop && inFlight === 0) resolve();
      };
      const pump = (): void => {
        while (inFlight < window && !stop) {
          if (issued >= o.count) {
            stop = true;
            break;
          }
          if ((issued & 255) === 0 && performance.now() > deadline) {
            timeCapped = true;
            stop = true;
            break;
          }
          const body = bodies.make(issued++);
          const start = performance.now();
          inFlight++;
          o.send(body).then(
            () => {
              lastAck = performance.now();
              hist.recordMs(lastAck - start);
              acked++;
              settle();
            },
            (error: unknown) => {
              failed++;
              firstError ??= String((error as Error)?.message ?? error);
              settle();
            },
          );
        }
        if (stop && inFlight === 0) resolve();
      };
      pump();
    });
  }
  const elapsedMs = lastAck - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    system: o.system,
    mode: o.mode,
    bodyBytes: o.bodyBytes,
    window: o.mode === 'sync' ? 1 : o.window,
    issued,
    acked,
    failed,
    ...(firstError !== undefined ? { firstError } : {}),
    elapsedMs: Math.round(elapsedMs),
    msgsPerSec: rate(acked, elapsedMs),
    mbPerSec: mbRate(acked * o.bodyBytes, elapsedMs),
    timeCapped,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    latencyMs: hist.summary(),
  };
}
