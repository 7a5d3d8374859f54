// Returning a message whose consumption failed (clustering mode): CONSUMER_SEND_MSG_BACK to the broker
// it came from, which re-stores it in %RETRY%<group> with a delay; if that fails, re-send it to the
// retry topic ourselves with the retry properties (protocol section 3.4), as Java and ali-ons do.
import { promisify } from 'node:util';
import { deflate } from 'node:zlib';
import type { MessageExt } from '../common/message.js';
import { SysFlag } from '../common/message.js';
import { uniqueIds } from '../common/message-id.js';
import { encodeProperties, Prop, type Properties } from '../common/properties.js';
import { retryTopic } from '../common/topic.js';
import type { ClientCore } from './client-core.js';
import { errorText } from './errors.js';
import { COMPRESS_BODY_OVER_BYTES_DEFAULT } from './limits.js';
import type { MessageSender } from './message-sender.js';
import type { MessageQueue } from './route.js';

const deflateAsync = promisify(deflate);

/** Delay level the broker applies to the first retry; each further retry adds one (Java: 3 + reconsumeTimes). */
export const RETRY_DELAY_LEVEL_BASE = 3;
/** Producer group of the client's internal producer (Java `CLIENT_INNER_PRODUCER`). */
export const INNER_PRODUCER_GROUP = 'CLIENT_INNER_PRODUCER';

/** The message to re-send to the retry topic when the broker could not take it back itself. */
export function retryResend(msg: MessageExt, group: string, maxReconsumeTimes: number): { topic: string; properties: Properties; reconsumeTimes: number; delayLevel: number } {
  const properties: Properties = { ...msg.properties };
  delete properties[Prop.TRANSACTION_PREPARED];
  delete properties[Prop.MIN_OFFSET];
  delete properties[Prop.MAX_OFFSET];
  const reconsumeTimes = msg.reconsumeTimes + 1;
  const delayLevel = RETRY_DELAY_LEVEL_BASE + msg.reconsumeTimes;
  properties[Prop.RETRY_TOPIC] = msg.topic;
  properties[Prop.ORIGIN_MESSAGE_ID] = msg.properties[Prop.ORIGIN_MESSAGE_ID] ?? msg.msgId;
  properties[Prop.RECONSUME_TIME] = String(reconsumeTimes);
  properties[Prop.MAX_RECONSUME_TIMES] = String(maxReconsumeTimes);
  properties[Prop.DELAY_TIME_LEVEL] = String(delayLevel);
  properties[Prop.WAIT_STORE_MSG_OK] = 'true';
  properties[Prop.UNIQ_KEY] ??= uniqueIds.next();
  return { topic: retryTopic(group), properties, reconsumeTimes, delayLevel };
}

export class SendBack {
  constructor(
    private readonly core: ClientCore,
    private readonly sender: MessageSender,
    private readonly group: string,
    private readonly maxReconsumeTimes: number,
  ) {}

  /** True once the message is safely in the retry topic (either way); false when both ways failed. */
  async returnMessage(msg: MessageExt, queue: MessageQueue): Promise<boolean> {
    const address = this.core.routes.masterOf(queue.brokerName) ?? msg.storeHost;
    try {
      await this.core.broker.sendBack(address, {
        offset: msg.commitLogOffset,
        group: this.group,
        delayLevel: 0,
        originMsgId: msg.properties[Prop.ORIGIN_MESSAGE_ID] ?? msg.msgId,
        originTopic: msg.topic,
        maxReconsumeTimes: this.maxReconsumeTimes,
      });
      return true;
    } catch (error) {
      this.core.logger.warn(`consumer ${this.group}: send-back of ${msg.msgId} to ${address} failed (${errorText(error)}); re-sending it to the retry topic`);
    }
    try {
      await this.resend(msg);
      return true;
    } catch (error) {
      this.core.logger.warn(`consumer ${this.group}: re-sending ${msg.msgId} to the retry topic failed (${errorText(error)}); it will be consumed again locally`);
      return false;
    }
  }

  private async resend(msg: MessageExt): Promise<void> {
    const { topic, properties, reconsumeTimes } = retryResend(msg, this.group, this.maxReconsumeTimes);
    let body = msg.body;
    let sysFlag = 0;
    if (body.length >= COMPRESS_BODY_OVER_BYTES_DEFAULT) {
      body = await deflateAsync(body);
      sysFlag |= SysFlag.COMPRESSED;
    }
    await this.sender.send(
      {
        topic,
        body,
        sysFlag,
        flag: msg.flag,
        propertiesText: encodeProperties(properties),
        reconsumeTimes,
        maxReconsumeTimes: this.maxReconsumeTimes,
        batch: false,
        msgId: properties[Prop.UNIQ_KEY]!,
      },
      { kind: 'round-robin' },
    );
  }
}
