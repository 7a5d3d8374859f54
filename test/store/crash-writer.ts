// Child process of the crash test: appends messages of random sizes to a store and reports on stdout what it has
// appended ("A <gen> <n>") and what is flushed ("F <gen> <n>") until it is killed.
// Usage: node crash-writer.js <dir> <ASYNC_FLUSH|SYNC_FLUSH> <generation> <seed>
import fs from 'node:fs';
import { MessageStore } from '../../store/message-store.js';
import { FlushMode } from '../../store/flush-service.js';
import { draft } from '../helpers/messages.js';
import { crashStoreOptions, messageBody, messageTopic, messageQueue } from './crash-shared.js';

const [dir, mode, genText, seedText] = process.argv.slice(2);
const generation = Number(genText);
let seed = Number(seedText) >>> 0;
function random(): number {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 0x1_0000_0000;
}

const store = MessageStore.open({ ...crashStoreOptions(dir!), flushMode: mode as FlushMode });
store.setCommitIndex(store.commitLog.lastIndex); // a group of one commits its whole log on restart
store.start();
fs.writeSync(1, `R ${generation} ${store.commitLog.lastIndex}\n`);

let n = 0;
async function run(): Promise<void> {
  for (;;) {
    const batch = 1 + Math.floor(random() * 8);
    let end = 0;
    for (let i = 0; i < batch; i++) {
      const id = `${generation}-${n}`;
      const bodyBytes = 1 + Math.floor(random() * random() * 16_000);
      const r = store.appendMessages(generation, [draft(messageTopic(id), messageQueue(id), messageBody(id, bodyBytes), { KEYS: id, UNIQ_KEY: id })]);
      store.setCommitIndex(r.index);
      end = r.offset + r.size;
      n++;
    }
    fs.writeSync(1, `A ${generation} ${n}\n`);
    if (mode === FlushMode.SYNC) {
      await store.waitFlushed(end);
      fs.writeSync(1, `F ${generation} ${n}\n`);
    } else if (store.commitLog.flushedOffset >= end) {
      fs.writeSync(1, `F ${generation} ${n}\n`);
    }
    if (n % 64 === 0) await new Promise((r) => setImmediate(r));
  }
}
void run();
