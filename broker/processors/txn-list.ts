// TXN_LIST (ledgermq admin): pending half messages (unresolved transactions) with their age and check count.
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { Header, guarded } from '../headers.js';
import type { TransactionService } from '../transaction-service.js';

/** One pending transaction in the TXN_LIST answer (`{ pending: PendingTransaction[] }`). */
export interface PendingTransaction {
  halfOffset: number;
  msgId: string;
  topic: string;
  producerGroup: string;
  ageMs: number;
  checks: number;
  nextCheckAt: number | null;
}

export const txnList = (txns: TransactionService): Processor =>
  guarded((request) => {
    const group = new Header(request).optStr('producerGroup');
    return createResponse(request, ResponseCode.SUCCESS, null, null, Buffer.from(JSON.stringify({ pending: txns.pending(group) })));
  });
