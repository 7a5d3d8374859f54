// Small helpers around RemotingClient.invoke: error translation, ext-field building and reading.
import { createRequest, type ExtFields, type RemotingClient, type RemotingCommand } from '../remoting/index.js';
import { malformedResponse, transportError } from './errors.js';

export type ExtValue = string | number | boolean | null | undefined;

/** Builds ext fields: every value becomes a string (protocol section 1.5); null/undefined are left out. */
export function extFields(fields: Record<string, ExtValue>): ExtFields {
  const out: ExtFields = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === undefined) continue;
    out[key] = typeof value === 'string' ? value : String(value);
  }
  return out;
}

export function request(code: number, fields: Record<string, ExtValue> | null = null, body: Buffer | null = null): RemotingCommand {
  return createRequest(code, fields === null ? null : extFields(fields), body);
}

/** Invokes and turns every transport failure into a ClientError (TIMEOUT or CONNECTION). */
export async function invoke(remoting: RemotingClient, address: string, command: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
  try {
    return await remoting.invoke(address, command, timeoutMs);
  } catch (error) {
    throw transportError(command.code, address, error);
  }
}

/** Sends with the oneway bit; resolves once written. */
export async function invokeOneway(remoting: RemotingClient, address: string, command: RemotingCommand, timeoutMs: number): Promise<void> {
  try {
    await remoting.invokeOneway(address, command, timeoutMs);
  } catch (error) {
    throw transportError(command.code, address, error);
  }
}

/** A response ext field that must be an integer (Java long/int); throws MALFORMED_RESPONSE otherwise. */
export function requiredInteger(response: RemotingCommand, name: string, requestCode: number, address: string): number {
  const value = optionalInteger(response, name);
  if (value === undefined) throw malformedResponse(requestCode, address, `ext field ${name} is missing or not an integer`);
  return value;
}

export function optionalInteger(response: RemotingCommand, name: string): number | undefined {
  const raw = response.extFields?.[name];
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function optionalString(response: RemotingCommand, name: string): string | undefined {
  const raw = response.extFields?.[name];
  return raw === undefined || raw === null || raw === '' ? undefined : raw;
}

/** The response body as one Buffer (responses we receive always carry a single buffer or none). */
export function bodyOf(response: RemotingCommand): Buffer {
  const body = response.body;
  if (body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  return Buffer.concat(body as readonly Buffer[]);
}
