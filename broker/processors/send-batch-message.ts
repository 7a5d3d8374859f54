// SEND_BATCH_MESSAGE (320): the V2 header with batch=true; the body holds several messages stored as one entry.
import type { Processor } from '../../remoting/index.js';
import { guarded } from '../headers.js';
import { readSendHeader, type SendService } from '../send-service.js';

export const sendBatchMessage = (sends: SendService): Processor =>
  guarded((request, rc) => sends.handle(request, rc, { ...readSendHeader(request, true), batch: true }));
