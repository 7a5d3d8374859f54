// END_TRANSACTION (37): the producer's commit or rollback of a half message (or its answer to a back-check).
// Usually oneway: the remoting layer then sends no answer, and a refusal is only logged.
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { NotWritableError } from '../../dledger/node.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';
import { notWritableResponse, refuseUnlessLeader } from '../not-leader.js';
import { TransactionError, type TransactionService } from '../transaction-service.js';

export const endTransaction = (ctx: BrokerContext, txns: TransactionService): Processor =>
  guarded(async (request, rc) => {
    const h = new Header(request);
    const req = {
      producerGroup: h.str('producerGroup'),
      tranStateTableOffset: h.long('tranStateTableOffset'),
      commitLogOffset: h.long('commitLogOffset'),
      commitOrRollback: h.int('commitOrRollback'),
      fromTransactionCheck: h.bool('fromTransactionCheck', false),
    };
    h.str('msgId');
    const refusal = refuseUnlessLeader(ctx, request);
    if (refusal) return refusal;
    try {
      const remark = await txns.end(req);
      return createResponse(request, ResponseCode.SUCCESS, remark);
    } catch (err) {
      if (err instanceof TransactionError) {
        ctx.log(`END_TRANSACTION from ${rc.remoteAddress} refused: ${err.message}`);
        return createResponse(request, err.code, err.message);
      }
      if (err instanceof NotWritableError) return notWritableResponse(ctx, request, err);
      throw err;
    }
  });
