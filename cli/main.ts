#!/usr/bin/env node
// The `ledgermq` command: servers (namesrv, broker, dev) and admin/client tools (topic, send, consume, raft).
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { namesrvCommand } from './commands/namesrv.js';
import { brokerCommand } from './commands/broker.js';
import { devCommand } from './commands/dev.js';
import { topicCommand } from './commands/topic.js';
import { sendCommand } from './commands/send.js';
import { consumeCommand } from './commands/consume.js';
import { raftCommand } from './commands/raft.js';
import { txnCommand } from './commands/txn.js';

await yargs(hideBin(process.argv))
  .scriptName('ledgermq')
  .usage('$0 <command> [options]')
  .command(namesrvCommand)
  .command(brokerCommand)
  .command(devCommand)
  .command(topicCommand)
  .command(sendCommand)
  .command(consumeCommand)
  .command(raftCommand)
  .command(txnCommand)
  .demandCommand(1, 'Name a command; see --help')
  .strict()
  .help()
  .alias('help', 'h')
  .wrap(Math.min(110, process.stdout.columns ?? 110))
  .fail((message, err) => {
    console.error(`ledgermq: ${err ? err.message : message}`);
    if (!err) console.error('Run with --help for usage.');
    process.exit(1);
  })
  .parseAsync();
