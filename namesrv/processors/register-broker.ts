// REGISTER_BROKER (103): a broker announces its address, id and (if master) its topic table.
import { parseAddress, ResponseCode, createResponse, type ExtFields, type Processor } from '../../remoting/index.js';
import { bodyCrc } from '../../common/crc.js';
import { ORDER_TOPIC_CONFIG_NAMESPACE } from '../codes.js';
import { NamesrvRequestError } from '../errors.js';
import { optionalBoolean, optionalInt, optionalLong, optionalString, requiredLong, requiredName, requiredString } from '../header.js';
import { ADDRESS_CHARS_MAX, BROKER_EXPIRED_MS_MAX, BROKER_EXPIRED_MS_MIN, REGISTER_BODY_BYTES_MAX } from '../limits.js';
import { parseRegisterBrokerBody, type TopicTable } from '../register-body.js';
import { kvTableBody } from '../wire-json.js';
import { bodyBuffer, guarded, type NamesrvState } from './context.js';

export function registerBrokerProcessor(state: NamesrvState): Processor {
  return guarded((request, ctx) => {
    const ext = request.extFields;
    const brokerName = requiredName(ext, 'brokerName');
    const brokerAddr = requiredAddress(ext, 'brokerAddr');
    const cluster = requiredName(ext, 'clusterName');
    const brokerId = requiredLong(ext, 'brokerId');
    if (brokerId < 0) throw new NamesrvRequestError(`header field brokerId must be 0 (master) or positive, got ${brokerId}`);
    const haServerAddr = optionalString(ext, 'haServerAddr') ?? '';
    if (haServerAddr.length > ADDRESS_CHARS_MAX) throw new NamesrvRequestError(`header field haServerAddr is longer than ${ADDRESS_CHARS_MAX} characters`);
    const heartbeatTimeoutMs = optionalLong(ext, 'heartbeatTimeoutMillis');
    if (heartbeatTimeoutMs !== null && (heartbeatTimeoutMs < BROKER_EXPIRED_MS_MIN || heartbeatTimeoutMs > BROKER_EXPIRED_MS_MAX)) {
      throw new NamesrvRequestError(`header field heartbeatTimeoutMillis must be in [${BROKER_EXPIRED_MS_MIN}, ${BROKER_EXPIRED_MS_MAX}], got ${heartbeatTimeoutMs}`);
    }
    const topicTable = readTopicTable(ext, bodyBuffer(request.body));

    const result = state.routes.registerBroker({
      cluster,
      brokerName,
      brokerAddr,
      brokerId,
      haServerAddr,
      heartbeatTimeoutMs,
      connectionId: ctx.connectionId,
      topicTable,
    });
    state.metrics.brokerRegistered();
    state.report(result.events);

    const responseExt: ExtFields = {};
    if (result.haServerAddr !== null && result.haServerAddr !== '') responseExt.haServerAddr = result.haServerAddr;
    if (result.masterAddr !== null) responseExt.masterAddr = result.masterAddr;
    // Like Java, hand the broker the order-topic configuration it may check its topics against.
    const orderTopics = state.kv.list(ORDER_TOPIC_CONFIG_NAMESPACE);
    return createResponse(request, ResponseCode.SUCCESS, null, responseExt, orderTopics === null ? null : kvTableBody(orderTopics));
  });
}

function requiredAddress(ext: ExtFields | null, field: string): string {
  const address = requiredString(ext, field);
  if (address.length > ADDRESS_CHARS_MAX) throw new NamesrvRequestError(`header field ${field} is longer than ${ADDRESS_CHARS_MAX} characters`);
  try {
    parseAddress(address);
  } catch {
    throw new NamesrvRequestError(`header field ${field} must be host:port, got ${JSON.stringify(address)}`);
  }
  return address;
}

/** Checks the body's CRC and form, then parses it; null when the broker sent no body. */
function readTopicTable(ext: ExtFields | null, body: Buffer | null): TopicTable | null {
  const expectedCrc = optionalInt(ext, 'bodyCrc32') ?? 0;
  if (expectedCrc !== 0) {
    const actualCrc = body === null ? 0 : bodyCrc(body);
    if (actualCrc !== expectedCrc) throw new NamesrvRequestError(`body CRC32 mismatch: header bodyCrc32 is ${expectedCrc}, the body's is ${actualCrc}`);
  }
  if (optionalBoolean(ext, 'compressed') === true) {
    throw new NamesrvRequestError('compressed registration bodies are not supported: register with compressed=false (JSON body)');
  }
  if (body === null) return null;
  if (body.length > REGISTER_BODY_BYTES_MAX) {
    throw new NamesrvRequestError(`register body is ${body.length} bytes, more than the ${REGISTER_BODY_BYTES_MAX} accepted`);
  }
  return parseRegisterBrokerBody(body);
}
