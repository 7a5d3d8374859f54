// Bench producer process for RabbitMQ: publishes numbered bodies to --queue through the default exchange on a
// confirm channel (publisher confirms), persistent and mandatory (an unroutable message is returned and counts as
// failed), and waits for each confirm: one at a time (--mode sync), with --window publishes awaiting their confirm
// (--mode async), or at --rate msgs/s (--mode rate, at most --window in flight; see ../e2e/drive.ts). A publish
// with no confirm within --confirm-timeout-ms fails.
// Prints READY once connected, then RESULT {json}.
// Usage: node dist/bench/rabbitmq/rabbit-producer.js --url amqp://guest:guest@127.0.0.1:P --queue Q --size 128
//        --count N --mode async [--window 512] [--rate N --tick-ms 1 --warmup-ms 0] [--confirm-timeout-ms 10000]
import amqp from 'amqplib';
import { flags, intFlag, required, SEQ_BYTES, sendLine, sendResult } from '../e2e/child-io.js';
import { drive } from '../e2e/drive.js';

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
  at: number;
}

const f = flags();
const queue = required(f, 'queue');
const confirmTimeoutMs = intFlag(f, 'confirm-timeout-ms', 10_000);
const conn = await amqp.connect(required(f, 'url'));
try {
  const ch = await conn.createConfirmChannel();
  let channelError: Error | null = null;
  ch.on('error', (e: Error) => (channelError = e));
  // by message number (the body's first 4 bytes): drive never has two sends of one number in flight
  const pending = new Map<number, Pending>();
  const settle = (seq: number, error: Error | null): void => {
    const p = pending.get(seq);
    if (p === undefined) return; // returned or timed out already
    pending.delete(seq);
    if (error) p.reject(error);
    else p.resolve();
  };
  ch.on('return', (m: amqp.Message) => settle(m.content.readUInt32BE(0), new Error(`returned unroutable: ${(m.fields as { replyText?: string }).replyText ?? ''}`)));
  const sweep = setInterval(() => {
    const limit = performance.now() - confirmTimeoutMs;
    for (const [seq, p] of pending) {
      if (p.at > limit) break; // insertion order = publish order
      settle(seq, new Error(`no confirm within ${confirmTimeoutMs} ms`));
    }
  }, 500);
  sendLine('READY');
  const result = await drive({
    system: 'rabbitmq',
    mode: (f.get('mode') ?? 'async') as 'sync' | 'async' | 'rate',
    bodyBytes: Math.max(SEQ_BYTES, intFlag(f, 'size', 128)),
    count: intFlag(f, 'count', 10_000),
    window: intFlag(f, 'window', 512),
    timeCapMs: intFlag(f, 'time-cap-ms', 60_000),
    rate: intFlag(f, 'rate', 0),
    tickMs: intFlag(f, 'tick-ms', 1),
    warmupMs: intFlag(f, 'warmup-ms', 0),
    send: (body) =>
      new Promise<void>((resolve, reject) => {
        if (channelError) return reject(channelError);
        const seq = body.readUInt32BE(0);
        pending.set(seq, { resolve, reject, at: performance.now() });
        ch.publish('', queue, body, { persistent: true, mandatory: true }, (err: unknown) =>
          settle(seq, err ? new Error(`nack: ${String((err as Error)?.message ?? err)}`) : null),
        );
      }),
  });
  clearInterval(sweep);
  sendResult({ ...result, publisher: 'amqplib confirm channel' });
  await ch.close().catch(() => undefined);
} finally {
  await conn.close().catch(() => undefined);
}
