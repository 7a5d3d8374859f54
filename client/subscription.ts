// TAG subscription expressions: '*' (everything) or 'TagA || TagB'. The broker filters by tag hash
// (protocol section 4.6), so hash collisions reach the client, which re-checks the tag string.
import { tagHashCode } from '../common/tag-hash.js';
import { illegalArgument } from './errors.js';
import { SUBSCRIPTION_TAGS_MAX } from './limits.js';

export const SUBSCRIBE_ALL = '*';

/** RocketMQ's SubscriptionData as it travels in heartbeats (section 6). */
export interface SubscriptionData {
  topic: string;
  subString: string;
  tagsSet: string[];
  codeSet: number[];
  subVersion: number;
  classFilterMode: boolean;
  expressionType: 'TAG';
}

/** Parses a TAG expression; '*', '' and undefined all mean "every tag". Throws ILLEGAL_ARGUMENT. */
export function parseTagExpression(expression: string | undefined | null): { subString: string; tags: string[] } {
  if (expression === undefined || expression === null) return { subString: SUBSCRIBE_ALL, tags: [] };
  if (typeof expression !== 'string') throw illegalArgument('a subscription expression must be a string');
  const trimmed = expression.trim();
  if (trimmed === '' || trimmed === SUBSCRIBE_ALL) return { subString: SUBSCRIBE_ALL, tags: [] };
  const tags: string[] = [];
  for (const part of trimmed.split('||')) {
    const tag = part.trim();
    if (tag === '' || tags.includes(tag)) continue;
    if (tag === SUBSCRIBE_ALL) return { subString: SUBSCRIBE_ALL, tags: [] };
    tags.push(tag);
  }
  if (tags.length === 0) return { subString: SUBSCRIBE_ALL, tags: [] };
  if (tags.length > SUBSCRIPTION_TAGS_MAX) throw illegalArgument(`a subscription may name at most ${SUBSCRIPTION_TAGS_MAX} tags`);
  return { subString: trimmed, tags };
}

export function subscriptionData(topic: string, expression: string | undefined, subVersion: number): SubscriptionData {
  const { subString, tags } = parseTagExpression(expression);
  return {
    topic,
    subString,
    tagsSet: tags,
    codeSet: [...new Set(tags.map(tagHashCode))],
    subVersion,
    classFilterMode: false,
    expressionType: 'TAG',
  };
}

/** Client-side re-check: everything matches '*'; otherwise the message's tag must be one of the set. */
export function tagMatches(sub: Pick<SubscriptionData, 'tagsSet'>, tags: string | undefined): boolean {
  if (sub.tagsSet.length === 0) return true;
  return tags !== undefined && sub.tagsSet.includes(tags);
}
