// PULL_MESSAGE (11): long-polling reads of committed messages, straight from the mapped commit log.
import type { Processor } from '../../remoting/index.js';
import { guarded } from '../headers.js';
import type { PullService } from '../pull-service.js';

export const pullMessage = (pulls: PullService): Processor => guarded((request) => pulls.handle(request));
