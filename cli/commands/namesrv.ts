// `ledgermq namesrv`: run a name server.
import type { CommandModule } from 'yargs';
import { onShutdown } from '../shutdown.js';

interface Args {
  host: string;
  port: number;
  'metrics-port'?: number;
  'broker-expired-ms': number;
}

export const namesrvCommand: CommandModule<object, Args> = {
  command: 'namesrv',
  describe: 'Run a name server (route table for producers and consumers)',
  builder: (y) =>
    y
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Interface to listen on' })
      .option('port', { type: 'number', default: 9876, describe: 'Port for brokers and clients' })
      .option('metrics-port', { type: 'number', describe: 'Serve Prometheus metrics at /metrics on this port (0 = any free port)' })
      .option('broker-expired-ms', { type: 'number', default: 120_000, describe: 'Drop a broker after this long without registration' }) as never,
  handler: async (args) => {
    const { startNameServer } = await import('../../namesrv/index.js');
    const ns = await startNameServer({
      host: args.host,
      port: args.port,
      metricsPort: args['metrics-port'] ?? null,
      brokerExpiredMs: args['broker-expired-ms'],
      logger: { info: (m) => console.log(m), warn: (m) => console.warn(m) },
    });
    console.log(`namesrv listening on ${args.host}:${ns.port}${ns.metricsPort ? ` metrics=http://${args.host}:${ns.metricsPort}/metrics` : ''}`);
    onShutdown(() => ns.close());
  },
};
