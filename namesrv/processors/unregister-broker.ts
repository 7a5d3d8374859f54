// UNREGISTER_BROKER (104): a broker leaving on purpose (shutdown). The address leaves its group at once.
import { createResponse, ResponseCode, type Processor } from '../../remoting/index.js';
import { requiredLong, requiredName, requiredString } from '../header.js';
import { guarded, type NamesrvState } from './context.js';

export function unregisterBrokerProcessor(state: NamesrvState): Processor {
  return guarded((request) => {
    const ext = request.extFields;
    // Java requires all four; the address alone identifies the broker here.
    requiredName(ext, 'brokerName');
    requiredName(ext, 'clusterName');
    requiredLong(ext, 'brokerId');
    const brokerAddr = requiredString(ext, 'brokerAddr');
    state.report(state.routes.unregisterBroker(brokerAddr));
    return createResponse(request, ResponseCode.SUCCESS);
  });
}
