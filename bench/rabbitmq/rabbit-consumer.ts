// Bench consumer process for RabbitMQ on --queue: basic.consume with manual acks and --prefetch unacknowledged
// deliveries (default 1000), acking every --ack-every-th delivery with multiple=true (and the last one at the end),
// counting numbered bodies until the orchestrator's EXPECT n is met (see ../e2e/consume-count.ts).
// Prints READY once the consumer is registered, then RESULT {json}.
// Usage: node dist/bench/rabbitmq/rabbit-consumer.js --url amqp://... --queue Q --size 128 --capacity N
//        [--prefetch 1000] [--ack-every 100] [--idle-ms 5000] [--time-cap-ms 120000]
import amqp from 'amqplib';
import { flags, intFlag, required, sendLine, sendResult } from '../e2e/child-io.js';
import { ConsumeCounter } from '../e2e/consume-count.js';

const f = flags();
const queue = required(f, 'queue');
const prefetch = Math.max(1, intFlag(f, 'prefetch', 1000));
const ackEvery = Math.max(1, Math.min(intFlag(f, 'ack-every', 100), prefetch));
const conn = await amqp.connect(required(f, 'url'));
const counter = new ConsumeCounter({
  system: 'rabbitmq',
  mode: `basic.consume prefetch=${prefetch} ackEvery=${ackEvery} (multiple)`,
  bodyBytes: intFlag(f, 'size', 128),
  capacity: intFlag(f, 'capacity', 1_000_000),
  idleMs: intFlag(f, 'idle-ms', 5000),
  timeCapMs: intFlag(f, 'time-cap-ms', 120_000),
});
try {
  const ch = await conn.createChannel();
  ch.on('error', (e: Error) => process.stderr.write(`consumer: channel error ${e.message}\n`));
  await ch.prefetch(prefetch);
  let n = 0;
  let last: amqp.ConsumeMessage | null = null;
  await ch.consume(
    queue,
    (m) => {
      if (m === null) return; // cancelled by the server
      counter.add(m.content);
      last = m;
      if (++n % ackEvery === 0) {
        ch.ack(m, true);
        last = null;
      }
    },
    { noAck: false },
  );
  sendLine('READY');
  await counter.done;
  if (last !== null) ch.ack(last, true);
  sendResult(counter.result());
  await ch.close().catch(() => undefined);
} finally {
  await conn.close().catch(() => undefined);
  process.stdin.destroy();
}
