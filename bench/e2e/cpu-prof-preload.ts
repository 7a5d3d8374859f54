// CPU profiling for processes started by others (`ledgermq dev` spawns the name server and brokers itself, and
// --cpu-prof is not allowed in NODE_OPTIONS): `NODE_OPTIONS=--import=<this file>` plus LEDGERMQ_CPU_PROF_DIR makes
// every Node process that inherits them write <dir>/<role>-<pid>.cpuprofile when it exits.
import fs from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env['LEDGERMQ_CPU_PROF_DIR'];
if (dir) {
  const role = process.argv.slice(2).find((a) => !a.startsWith('-')) ?? 'node';
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // the same-thread session answers synchronously, so this completes inside the exit handler
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${role}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
