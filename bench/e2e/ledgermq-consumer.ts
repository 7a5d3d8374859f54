// Bench consumer process for ledgermq: a PushConsumer (clustering, from the first offset, a fresh group) on
// --topic, counting numbered bodies until the orchestrator's EXPECT n is met (see consume-count.ts).
// Prints READY once it owns its queues, then RESULT {json}.
// Usage: node dist/bench/e2e/ledgermq-consumer.js --namesrv H:P --topic T --group G --size 128 --capacity N
//        [--pull-batch 32] [--consume-batch 32] [--concurrency 20] [--idle-ms 5000] [--time-cap-ms 120000]
import { PushConsumer } from '../../client/index.js';
import { flags, intFlag, required, sendLine, sendResult } from './child-io.js';
import { ConsumeCounter } from './consume-count.js';

const f = flags();
const topic = required(f, 'topic');
const pullBatchSize = intFlag(f, 'pull-batch', 32);
const consumeBatchSize = intFlag(f, 'consume-batch', 32);
const logger = { warn: (m: string) => void process.stderr.write(`consumer: ${m}\n`) };
const consumer = new PushConsumer({
  namesrv: required(f, 'namesrv'),
  group: required(f, 'group'),
  consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
  pullBatchSize,
  consumeBatchSize,
  consumeConcurrency: intFlag(f, 'concurrency', 20),
  logger,
});
const counter = new ConsumeCounter({
  system: 'ledgermq',
  mode: `PushConsumer pullBatch=${pullBatchSize} consumeBatch=${consumeBatchSize}`,
  bodyBytes: intFlag(f, 'size', 128),
  capacity: intFlag(f, 'capacity', 1_000_000),
  idleMs: intFlag(f, 'idle-ms', 5000),
  timeCapMs: intFlag(f, 'time-cap-ms', 120_000),
});
consumer.subscribe(topic, '*');
consumer.onMessage((msgs) => {
  for (const m of msgs) counter.add(m.body);
  return 'CONSUME_SUCCESS';
});
try {
  await consumer.start();
  sendLine('READY');
  await counter.done;
  sendResult(counter.result());
} finally {
  await consumer.shutdown();
  process.stdin.destroy();
}
