// A transactional producer in a process of its own, for crash tests: sends `--count` half messages (bodies
// `<prefix>-<i>`) whose local transactions never finish, prints `half <i> <msgId>` for each and then `halves-sent`,
// and waits to be killed. Its checker never answers (the process is meant to die first). It exits by itself after
// `--max-life-ms` so a test that dies without killing it leaves nothing behind.
// Usage: node txn-child.js --namesrv H:P --group G --topic T --count N [--prefix p] [--max-life-ms 60000]
import { TransactionProducer } from '../../client/index.js';

function flag(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) {
    console.error(`txn-child: --${name} is required`);
    process.exit(2);
  }
  return v;
}

const namesrv = flag('namesrv');
const group = flag('group');
const topic = flag('topic');
const count = Number(flag('count'));
const prefix = flag('prefix', 'crash');
const maxLifeMs = Number(flag('max-life-ms', '60000'));
setTimeout(() => {
  console.error('txn-child: not killed in time; exiting');
  process.exit(3);
}, maxLifeMs);

const never = new Promise<never>(() => undefined);
const producer = new TransactionProducer({ namesrv, group, checker: () => never, logger: { warn: (m) => console.error(m) } });
await producer.start();
let sent = 0;
await Promise.all(
  Array.from({ length: count }, (_, i) =>
    producer.sendMessageInTransaction({ topic, body: `${prefix}-${i}`, keys: `${prefix}-${i}` }, (msg) => {
      console.log(`half ${i} ${msg.msgId}`);
      if (++sent === count) console.log('halves-sent');
      return never;
    }),
  ),
);
