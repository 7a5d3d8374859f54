// Bench producer process for ledgermq: one Producer sending numbered bodies to --topic, either one at a time
// (--mode sync), with --window sends in flight (--mode async, maxOutstandingSends = window), or at --rate msgs/s
// (--mode rate, at most --window in flight; see drive.ts).
// Prints READY once connected, then RESULT {json} (see drive.ts).
// Usage: node dist/bench/e2e/ledgermq-producer.js --namesrv H:P --topic T --size 128 --count N --mode async
//        [--window 512] [--time-cap-ms 60000] [--auto-batch default|off] [--rate N --tick-ms 1 --warmup-ms 0]
import { Producer } from '../../client/index.js';
import { flags, intFlag, required, sendLine, sendResult } from './child-io.js';
import { drive } from './drive.js';

const f = flags();
const topic = required(f, 'topic');
const mode = (f.get('mode') ?? 'async') as 'sync' | 'async' | 'rate';
const window = intFlag(f, 'window', 512);
const autoBatch = f.get('auto-batch') ?? 'default';
if (autoBatch !== 'default' && autoBatch !== 'off') throw new Error(`--auto-batch must be default or off, got ${autoBatch}`);
const logger = { warn: (m: string) => void process.stderr.write(`producer: ${m}\n`) };
const producer = new Producer({
  namesrv: required(f, 'namesrv'),
  group: f.get('group') ?? 'BenchProducer',
  maxOutstandingSends: Math.max(1, window),
  logger,
  // the Producer's autoBatch option when it has one (off: one SEND_MESSAGE_V2 per message)
  ...(autoBatch === 'off' ? { autoBatch: false } : {}),
});
/** Messages and send requests, when the Producer batches sends by itself. */
const batching = (): { messages: number; batches: number } | undefined =>
  (producer as unknown as { autoBatchStats?: { messages: number; batches: number } }).autoBatchStats;
try {
  await producer.start();
  sendLine('READY');
  const before = batching();
  const result = await drive({
    system: 'ledgermq',
    mode,
    bodyBytes: intFlag(f, 'size', 128),
    count: intFlag(f, 'count', 10_000),
    window,
    timeCapMs: intFlag(f, 'time-cap-ms', 60_000),
    rate: intFlag(f, 'rate', 0),
    tickMs: intFlag(f, 'tick-ms', 1),
    warmupMs: intFlag(f, 'warmup-ms', 0),
    send: (body) => producer.send({ topic, body }),
  });
  const after = batching();
  const batchedMessages = after === undefined ? 0 : after.messages - (before?.messages ?? 0);
  // every message that went through the batcher left in one of its batches; otherwise one request per message
  const requests = batchedMessages === 0 ? result.acked : after!.batches - (before?.batches ?? 0) + (result.acked - batchedMessages);
  sendResult({ ...result, autoBatch, requests });
} finally {
  await producer.shutdown();
}
