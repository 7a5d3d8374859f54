// Bench producer process for NATS JetStream: publishes numbered bodies to --subject and waits for each PubAck,
// one at a time (--mode sync), with --window publishes in flight (--mode async), or at --rate msgs/s (--mode rate,
// at most --window in flight; see ../e2e/drive.ts).
// --publisher js uses nats.js's js.publish(); --publisher raw (default) does the same request/PubAck exchange with
// less client CPU per message (raw-publisher.ts).
// Prints READY once connected, then RESULT {json} (see ../e2e/drive.ts).
// Usage: node dist/bench/nats/nats-producer.js --url H:P --subject S --size 128 --count N --mode async [--window 512]
//        [--publisher raw|js] [--rate N --tick-ms 1 --warmup-ms 0]
import { connect } from 'nats';
import { flags, intFlag, required, sendLine, sendResult } from '../e2e/child-io.js';
import { drive } from '../e2e/drive.js';
import { RawJetStreamPublisher } from './raw-publisher.js';

const f = flags();
const subject = required(f, 'subject');
const publisher = f.get('publisher') ?? 'raw';
if (publisher !== 'raw' && publisher !== 'js') throw new Error(`unknown --publisher ${publisher}`);
const nc = await connect({ servers: required(f, 'url'), name: 'bench-producer' });
try {
  const js = nc.jetstream();
  const raw = publisher === 'raw' ? new RawJetStreamPublisher(nc) : null;
  sendLine('READY');
  const result = await drive({
    system: 'nats',
    mode: (f.get('mode') ?? 'async') as 'sync' | 'async' | 'rate',
    bodyBytes: intFlag(f, 'size', 128),
    count: intFlag(f, 'count', 10_000),
    window: intFlag(f, 'window', 512),
    timeCapMs: intFlag(f, 'time-cap-ms', 60_000),
    rate: intFlag(f, 'rate', 0),
    tickMs: intFlag(f, 'tick-ms', 1),
    warmupMs: intFlag(f, 'warmup-ms', 0),
    send: raw ? (body) => raw.publish(subject, body) : (body) => js.publish(subject, body),
  });
  raw?.close();
  sendResult({ ...result, publisher });
} finally {
  await nc.drain();
}
