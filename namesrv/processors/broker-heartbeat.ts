// BROKER_HEARTBEAT (904, 5.x): keeps a registered broker alive without re-sending its topic table.
import { createResponse, ResponseCode, type Processor } from '../../remoting/index.js';
import { requiredName, requiredString } from '../header.js';
import { guarded, type NamesrvState } from './context.js';

export function brokerHeartbeatProcessor(state: NamesrvState): Processor {
  return guarded((request) => {
    const ext = request.extFields;
    requiredName(ext, 'clusterName');
    const brokerName = requiredName(ext, 'brokerName');
    const brokerAddr = requiredString(ext, 'brokerAddr');
    // Like Java, a heartbeat from an unknown broker is answered SUCCESS and changes nothing: it registers next.
    state.routes.touchBroker(brokerAddr, brokerName);
    return createResponse(request, ResponseCode.SUCCESS);
  });
}
