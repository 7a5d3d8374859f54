// SEND_MESSAGE (10): the V1 header with full field names.
import type { Processor } from '../../remoting/index.js';
import { guarded } from '../headers.js';
import { readSendHeader, type SendService } from '../send-service.js';

export const sendMessage = (sends: SendService): Processor => guarded((request, rc) => sends.handle(request, rc, readSendHeader(request, false)));
