// The send loop every bench producer runs: `sync` awaits each send before the next, `async` keeps `window` sends in
// flight, `rate` releases sends open-loop at `rate` msgs/s on a `tickMs` tick (at most `window` in flight; a send that
// finds no slot waits for one and keeps its scheduled time). Every send's latency goes into a histogram: call to
// acknowledgement, or in rate mode scheduled release to acknowledgement, so a producer or server that cannot keep
// up shows as latency instead of being hidden (coordinated omission). Stops issuing at `count` sends or when
// `timeCapMs` has passed, then waits for the sends in flight.
import { LatencyHistogram } from './histogram.js';
import { BodyFactory, mbRate, rate, type ProducerResult } from './child-io.js';

export interface DriveOptions {
  system: string;
  mode: 'sync' | 'async' | 'rate';
  bodyBytes: number;
  count: number;
  window: number;
  timeCapMs: number;
  /** Rate mode: messages per second, released every `tickMs` (default 1 ms); sends scheduled in the first
   *  `warmupMs` are made and checked like the others but left out of the latency histograms. */
  rate?: number;
  tickMs?: number;
  warmupMs?: number;
  send: (body: Buffer) => Promise<unknown>;
}

/** Share of the target rate a rate-mode run must reach, with every message acknowledged, to count as sustained. */
export const RATE_SUSTAINED_SHARE = 0.98;

export async function drive(o: DriveOptions): Promise<ProducerResult> {
  if (o.mode === 'rate') return drivePaced(o);
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

async function drivePaced(o: DriveOptions): Promise<ProducerResult> {
  const target = o.rate ?? 0;
  if (!(target > 0)) throw new Error('rate mode needs a positive rate');
  const tickMs = Math.max(1, o.tickMs ?? 1);
  const warmupMs = Math.max(0, o.warmupMs ?? 0);
  const window = Math.max(1, o.window);
  const bodies = new BodyFactory(o.bodyBytes);
  const hist = new LatencyHistogram(); // scheduled release -> ack
  const service = new LatencyHistogram(); // send call -> ack
  const lag = new LatencyHistogram(); // scheduled release -> send call
  let issued = 0;
  let acked = 0;
  let failed = 0;
  let firstError: string | undefined;
  let timeCapped = false;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + o.timeCapMs;
  let lastAck = t0;
  /** Largest latency of the sends scheduled in each second (shows when stalls happened); bounded by the time cap. */
  const maxBySecond: number[] = [];
  const SECONDS_TRACKED_MAX = 3600;
  /** Release time of message i: the start of the tick it falls in. */
  const scheduled = (i: number): number => t0 + Math.floor((i * 1000) / target / tickMs) * tickMs;
  const measuredFrom = t0 + warmupMs;

  await new Promise<void>((resolve) => {
    let inFlight = 0;
    let stop = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (): void => {
      inFlight--;
      if (!stop) release();
      else if (inFlight === 0) resolve();
    };
    const release = (): void => {
      const now = performance.now();
      while (!stop && inFlight < window) {
        if (issued >= o.count) {
          stop = true;
          break;
        }
        if (now > deadline) {
          timeCapped = true;
          stop = true;
          break;
        }
        const due = scheduled(issued);
        if (due > now) break;
        const body = bodies.make(issued++);
        const start = performance.now();
        const measured = due >= measuredFrom;
        if (measured) lag.recordMs(start - due);
        inFlight++;
        o.send(body).then(
          () => {
            lastAck = performance.now();
            if (measured) {
              hist.recordMs(lastAck - due);
              service.recordMs(lastAck - start);
            }
            const second = Math.min(SECONDS_TRACKED_MAX - 1, Math.floor((due - t0) / 1000));
            maxBySecond[second] = Math.max(maxBySecond[second] ?? 0, Math.round(lastAck - due));
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
      if (stop) {
        clearTimeout(timer);
        if (inFlight === 0) resolve();
      }
    };
    const tick = (): void => {
      release();
      if (!stop) timer = setTimeout(tick, Math.max(1, Math.ceil(scheduled(issued) - performance.now())));
    };
    tick();
  });
  const elapsedMs = lastAck - t0;
  const cpu = process.cpuUsage(cpu0);
  const achievedRate = rate(acked, elapsedMs);
  return {
    system: o.system,
    mode: 'rate',
    bodyBytes: o.bodyBytes,
    window,
    issued,
    acked,
    failed,
    ...(firstError !== undefined ? { firstError } : {}),
    elapsedMs: Math.round(elapsedMs),
    msgsPerSec: achievedRate,
    mbPerSec: mbRate(acked * o.bodyBytes, elapsedMs),
    timeCapped,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    latencyMs: hist.summary(),
    targetRate: target,
    warmupMs,
    achievedRate,
    sustained: failed === 0 && acked === o.count && achievedRate >= target * RATE_SUSTAINED_SHARE,
    issueLagMs: lag.summary(),
    serviceLatencyMs: service.summary(),
    maxLatencyBySecondMs: Array.from(maxBySecond, (v) => v ?? 0),
  };
}
