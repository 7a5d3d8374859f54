// Requests to the name servers. Any of them can answer; the one that answered last is asked first, and
// on a transport failure the next one is tried, so one dead name server costs at most one timeout.
import { parseAddress, RequestCode, ResponseCode, type RemotingClient, type RemotingCommand } from '../remoting/index.js';
import { ClientError, ClientErrorCode, illegalArgument, malformedResponse, responseError } from './errors.js';
import { bodyOf, invoke, request } from './rpc.js';
import { parseClusterInfo, parseTopicList, parseTopicRouteData, RouteParseError, type ClusterInfo, type TopicRouteData } from './route.js';

/** Splits `'h:p;h:p'` (or a list of those) into validated addresses. */
export function parseNameServerList(namesrv: string | readonly string[]): string[] {
  const parts = (typeof namesrv === 'string' ? [namesrv] : namesrv).flatMap((s) => s.split(/[;,]/));
  const out: string[] = [];
  for (const raw of parts) {
    const address = raw.trim();
    if (address === '') continue;
    try {
      parseAddress(address);
    } catch {
      throw illegalArgument(`invalid name server address ${JSON.stringify(address)}: expected host:port`);
    }
    if (!out.includes(address)) out.push(address);
  }
  if (out.length === 0) throw illegalArgument('no name server address given (namesrv)');
  return out;
}

export class NameServerClient {
  private current = 0;

  constructor(
    private readonly remoting: RemotingClient,
    readonly addresses: readonly string[],
    private readonly timeoutMs: number,
  ) {}

  /** The route of `topic`, or null when no name server knows it (TOPIC_NOT_EXIST). */
  async topicRoute(topic: string): Promise<TopicRouteData | null> {
    const { response, address } = await this.ask(() => request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }));
    if (response.code === ResponseCode.TOPIC_NOT_EXIST) return null;
    return this.parse(response, address, RequestCode.GET_ROUTEINFO_BY_TOPIC, parseTopicRouteData);
  }

  async clusterInfo(): Promise<ClusterInfo> {
    const { response, address } = await this.ask(() => request(RequestCode.GET_BROKER_CLUSTER_INFO));
    return this.parse(response, address, RequestCode.GET_BROKER_CLUSTER_INFO, parseClusterInfo);
  }

  async topicList(): Promise<string[]> {
    const { response, address } = await this.ask(() => request(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER));
    return this.parse(response, address, RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, parseTopicList);
  }

  private parse<T>(response: RemotingCommand, address: string, code: number, parser: (body: Buffer) => T): T {
    if (response.code !== ResponseCode.SUCCESS) {
      throw responseError(code, address, response.code, response.remark, response.code === ResponseCode.SYSTEM_BUSY || response.code === ResponseCode.SYSTEM_ERROR);
    }
    try {
      return parser(bodyOf(response));
    } catch (error) {
      if (error instanceof RouteParseError) throw malformedResponse(code, address, error.message);
      throw error;
    }
  }

  /** Asks name servers in turn, starting with the last one that answered, until one answers at all. */
  private async ask(make: () => RemotingCommand): Promise<{ response: RemotingCommand; address: string }> {
    let lastError: ClientError | null = null;
    const count = this.addresses.length;
    for (let attempt = 0; attempt < count; attempt++) {
      const index = (this.current + attempt) % count;
      const address = this.addresses[index]!;
      const command = make();
      try {
        const response = await invoke(this.remoting, address, command, this.timeoutMs);
        this.current = index;
        return { response, address };
      } catch (error) {
        if (!(error instanceof ClientError) || !error.retriable) throw error;
        lastError = error;
      }
    }
    throw new ClientError(
      `no name server answered (${this.addresses.join(';')}): ${lastError?.message ?? 'no attempt'}`,
      lastError?.code ?? ClientErrorCode.CONNECTION,
      true,
      null,
      null,
      { cause: lastError },
    );
  }
}
