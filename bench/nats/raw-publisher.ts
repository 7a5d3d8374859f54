// JetStream publishing without the per-call cost of nats.js's js.publish() (a request object, a timer and an
// empty header block per message): a plain PUB with a reply subject under one inbox subscription, the PubAck
// (or error) matched back to the publish by the reply subject's last token. Same wire result and the same check
// as js.publish(): a PubAck naming a stream, an error reply or a 503 "no responders" is a failure.
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';

interface Pending {
  resolve: (seq: number) => void;
  reject: (error: Error) => void;
  at: number;
}

const PENDING_MAX = 1 << 20;

export class RawJetStreamPublisher {
  private readonly inbox = createInbox();
  private readonly pending = new Map<number, Pending>();
  private readonly sub: Subscription;
  private readonly timer: NodeJS.Timeout;
  private next = 0;
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5000,
  ) {
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => this.onReply(err, msg) });
    this.timer = setInterval(() => this.expire(), 500);
    this.timer.unref();
  }

  publish(subject: string, data: Uint8Array): Promise<number> {
    if (this.pending.size >= PENDING_MAX) return Promise.reject(new Error('too many publishes in flight'));
    const id = this.next++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, at: performance.now() });
      this.nc.publish(subject, data, { reply: `${this.inbox}.${id}` });
    });
  }

  private onReply(err: Error | null, msg: Msg): void {
    const id = Number(msg.subject.slice(this.inbox.length + 1));
    const p = this.pending.get(id);
    if (p === undefined) return; // timed out already
    this.pending.delete(id);
    if (err) return p.reject(err);
    if (msg.headers?.code === 503) return p.reject(new Error('503 no responders: no stream for the subject'));
    const text = this.decoder.decode(msg.data);
    try {
      const ack = JSON.parse(text) as { stream?: string; seq?: number; error?: { code: number; description: string } };
      if (ack.error) return p.reject(new Error(`${ack.error.code} ${ack.error.description}`));
      if (!ack.stream || typeof ack.seq !== 'number') return p.reject(new Error(`invalid PubAck ${text}`));
      p.resolve(ack.seq);
    } catch {
      p.reject(new Error(`invalid PubAck ${text}`));
    }
  }

  private expire(): void {
    const limit = performance.now() - this.timeoutMs;
    for (const [id, p] of this.pending) {
      if (p.at > limit) break; // insertion order = publish order
      this.pending.delete(id);
      p.reject(new Error(`no PubAck within ${this.timeoutMs} ms`));
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.sub.unsubscribe();
    for (const p of this.pending.values()) p.reject(new Error('publisher closed'));
    this.pending.clear();
  }
}
