// Options and helpers shared by the client-side commands.
import type { Logger } from '../../client/index.js';

export const quietLogger: Logger = { warn: (m: string) => console.error(`warn: ${m}`) } as Logger;

export function bodyPreview(body: Buffer, max = 200): string {
  const text = body.toString('utf8');
  return text.length > max ? `${text.slice(0, max)}... (${body.length} bytes)` : text;
}
