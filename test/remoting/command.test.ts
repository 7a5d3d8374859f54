import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAddress, parseAddress } from '../../remoting/address.js';
import {
  languageByte,
  languageName,
  RemotingFlag,
  RequestCode,
  requestCodeLabel,
  ResponseCode,
  responseCodeLabel,
  SerializeType,
} from '../../remoting/codes.js';
import { bodyBytes, createRequest, createResponse, isOneway, isResponse, nextOpaque, opaqueAfter } from '../../remoting/command.js';
import { connectionLimits, CONNECTION_LIMITS_DEFAULT, FRAME_BYTES_MAX, HEADER_BYTES_MAX, MiB } from '../../remoting/limits.js';

test('request codes cover the protocol table, name server and transaction codes included', () => {
  const expected: Record<string, number> = {
    SEND_MESSAGE: 10, PULL_MESSAGE: 11, QUERY_MESSAGE: 12, QUERY_CONSUMER_OFFSET: 14, UPDATE_CONSUMER_OFFSET: 15,
    UPDATE_AND_CREATE_TOPIC: 17, GET_ALL_TOPIC_CONFIG: 21, SEARCH_OFFSET_BY_TIMESTAMP: 29, GET_MAX_OFFSET: 30,
    GET_MIN_OFFSET: 31, GET_EARLIEST_MSG_STORETIME: 32, VIEW_MESSAGE_BY_ID: 33, HEART_BEAT: 34, UNREGISTER_CLIENT: 35,
    CONSUMER_SEND_MSG_BACK: 36, END_TRANSACTION: 37, GET_CONSUMER_LIST_BY_GROUP: 38, CHECK_TRANSACTION_STATE: 39,
    NOTIFY_CONSUMER_IDS_CHANGED: 40, LOCK_BATCH_MQ: 41, UNLOCK_BATCH_MQ: 42, PUT_KV_CONFIG: 100, GET_KV_CONFIG: 101,
    DELETE_KV_CONFIG: 102, REGISTER_BROKER: 103, UNREGISTER_BROKER: 104, GET_ROUTEINFO_BY_TOPIC: 105,
    GET_BROKER_CLUSTER_INFO: 106, GET_ALL_TOPIC_LIST_FROM_NAMESERVER: 206, REGISTER_TOPIC_IN_NAMESRV: 217,
    GET_CONSUMER_RUNNING_INFO: 307, CONSUME_MESSAGE_DIRECTLY: 309, SEND_MESSAGE_V2: 310, SEND_BATCH_MESSAGE: 320,
    BROKER_HEARTBEAT: 904,
  };
  for (const [name, code] of Object.entries(expected)) assert.equal((RequestCode as Record<string, number>)[name], code, name);
  assert.equal(requestCodeLabel(310), 'SEND_MESSAGE_V2(310)');
  assert.equal(requestCodeLabel(9999), 'UNKNOWN(9999)');
  assert.equal(ResponseCode.REQUEST_CODE_NOT_SUPPORTED, 3);
  assert.equal(ResponseCode.TRANSACTION_STATE_UNKNOW, 202);
  assert.equal(responseCodeLabel(21), 'PULL_OFFSET_MOVED(21)');
});

test('language names and bytes map both ways; unknowns fall back to OTHER', () => {
  assert.equal(languageByte('JAVA'), 0);
  assert.equal(languageByte('NODE_JS'), 13);
  assert.equal(languageByte('toString'), 7);
  assert.equal(languageName(9), 'GO');
  assert.equal(languageName(200), 'OTHER');
});

test('createRequest and createResponse set opaque, flags, language and encoding', () => {
  const request = createRequest(RequestCode.PULL_MESSAGE, { topic: 'T' });
  request.serializeType = SerializeType.JSON;
  assert.equal(isResponse(request), false);
  assert.equal(request.language, 'OTHER');
  const response = createResponse(request, ResponseCode.PULL_NOT_FOUND, null, { nextBeginOffset: '5' });
  assert.equal(response.opaque, request.opaque);
  assert.equal(isResponse(response), true);
  assert.equal(isOneway(response), false);
  assert.equal(response.serializeType, SerializeType.JSON);
  assert.equal(response.language, 'JAVA');
  assert.equal(isOneway({ ...request, flag: RemotingFlag.ONEWAY }), true);
  assert.equal(bodyBytes([Buffer.alloc(3), Buffer.alloc(4)]), 7);
  assert.equal(bodyBytes(null), 0);
});

test('opaques increase and wrap within non-negative int32', () => {
  const a = nextOpaque();
  assert.equal(nextOpaque(), a + 1);
  assert.equal(opaqueAfter(0x7fff_fffe), 0x7fff_ffff);
  assert.equal(opaqueAfter(0x7fff_ffff), 0);
});

test('addresses parse as host:port, IPv6 in brackets', () => {
  assert.deepEqual(parseAddress('10.0.0.5:10911'), { host: '10.0.0.5', port: 10911 });
  assert.deepEqual(parseAddress('[::1]:9876'), { host: '::1', port: 9876 });
  assert.equal(formatAddress('::1', 9876), '[::1]:9876');
  for (const bad of ['', 'host', 'host:', ':80', 'host:0', 'host:65536', 'host:12a']) assert.throws(() => parseAddress(bad), /invalid address/);
});

test('limits: defaults are coherent and incoherent overrides fail loudly', () => {
  assert.equal(FRAME_BYTES_MAX, 16 * MiB);
  assert.ok(HEADER_BYTES_MAX < FRAME_BYTES_MAX);
  assert.deepEqual(connectionLimits(), CONNECTION_LIMITS_DEFAULT);
  assert.throws(() => connectionLimits({ inboundRequestsLowWater: 10, inboundRequestsHighWater: 10 }), assert.AssertionError);
  assert.throws(() => connectionLimits({ headerBytesMax: 0x100_0000 }), assert.AssertionError);
  assert.throws(() => connectionLimits({ outboundBytesMax: 1024 }), assert.AssertionError);
  assert.throws(() => connectionLimits({ inflightRequestsMax: 0 }), assert.AssertionError);
  assert.equal(connectionLimits({ inflightRequestsMax: 2 }).inflightRequestsMax, 2);
});
