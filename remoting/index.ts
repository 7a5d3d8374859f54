// Public surface of the remoting layer: frames, commands, header codecs, connection, server and client.
export { formatAddress, parseAddress, type HostPort } from './address.js';
export { RemotingClient, type RemotingClientOptions } from './client.js';
export {
  isSerializeType,
  LanguageCode,
  languageByte,
  languageName,
  PROTOCOL_VERSION,
  RemotingFlag,
  REQUEST_LANGUAGE,
  RequestCode,
  requestCodeLabel,
  RESPONSE_LANGUAGE,
  ResponseCode,
  responseCodeLabel,
  SerializeType,
  type LanguageName,
} from './codes.js';
export {
  bodyBytes,
  createRequest,
  createResponse,
  isOneway,
  isResponse,
  nextOpaque,
  opaqueAfter,
  type Body,
  type ExtFields,
  type RemotingCommand,
} from './command.js';
export { Connection, type ConnectionOptions } from './connection.js';
export {
  ConnectError,
  ConnectionClosedError,
  DecodeError,
  DecodeReason,
  FrameTooLargeError,
  InflightLimitError,
  OutboundBufferFullError,
  RemotingError,
  RequestTimeoutError,
} from './errors.js';
export { decodeCommand, encodeFrame, FrameDecoder, type Frame, type FrameLimits } from './frame.js';
export { BINARY_HEADER_FIXED_BYTES, decodeBinaryHeader, encodeBinaryHeader } from './header-binary.js';
export { decodeJsonHeader, encodeJsonHeader } from './header-json.js';
export * as limits from './limits.js';
export { connectionLimits, type ConnectionLimits } from './limits.js';
export { consoleLogger, type Logger } from './logger.js';
export { ProcessorTable, type Processor, type ProcessorResult, type RequestContext } from './processors.js';
export { RemotingServer, type RemotingServerEvents, type RemotingServerOptions } from './server.js';
