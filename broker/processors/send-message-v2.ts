// SEND_MESSAGE_V2 (310): the same header with one-letter field names (what Java clients and ali-ons send).
import type { Processor } from '../../remoting/index.js';
import { guarded } from '../headers.js';
import { readSendHeader, type SendService } from '../send-service.js';

export const sendMessageV2 = (sends: SendService): Processor => guarded((request, rc) => sends.handle(request, rc, readSendHeader(request, true)));
