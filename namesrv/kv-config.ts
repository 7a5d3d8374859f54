// Namespaced key/value configuration (PUT/GET/DELETE_KV_CONFIG, GET_KVLIST_BY_NAMESPACE). In memory only:
// unlike RocketMQ's kvConfig.json it does not survive a restart, so whoever relies on it (ORDER_TOPIC_CONFIG)
// must put it again after a name server restarts.
import { NamesrvRequestError } from './errors.js';
import { KV_KEY_CHARS_MAX, KV_KEYS_PER_NAMESPACE_MAX, KV_NAMESPACES_MAX, KV_VALUE_CHARS_MAX } from './limits.js';

export class KvConfig {
  private readonly namespaces = new Map<string, Map<string, string>>();

  /** Refuses (NamesrvRequestError) oversized keys/values and new entries beyond the limits. */
  put(namespace: string, key: string, value: string): void {
    if (key.length > KV_KEY_CHARS_MAX) throw new NamesrvRequestError(`KV key is longer than ${KV_KEY_CHARS_MAX} characters`);
    if (value.length > KV_VALUE_CHARS_MAX) throw new NamesrvRequestError(`KV value is longer than ${KV_VALUE_CHARS_MAX} characters`);
    let table = this.namespaces.get(namespace);
    if (table === undefined) {
      if (this.namespaces.size >= KV_NAMESPACES_MAX) throw new NamesrvRequestError(`KV config already holds ${KV_NAMESPACES_MAX} namespaces`);
      table = new Map();
      this.namespaces.set(namespace, table);
    }
    if (!table.has(key) && table.size >= KV_KEYS_PER_NAMESPACE_MAX) {
      throw new NamesrvRequestError(`KV namespace ${namespace} already holds ${KV_KEYS_PER_NAMESPACE_MAX} keys`);
    }
    table.set(key, value);
  }

  get(namespace: string, key: string): string | null {
    return this.namespaces.get(namespace)?.get(key) ?? null;
  }

  /** Returns whether the key existed. An emptied namespace disappears. */
  delete(namespace: string, key: string): boolean {
    const table = this.namespaces.get(namespace);
    if (table === undefined || !table.delete(key)) return false;
    if (table.size === 0) this.namespaces.delete(namespace);
    return true;
  }

  /** A copy of the namespace's entries, or null when it has none. */
  list(namespace: string): Map<string, string> | null {
    const table = this.namespaces.get(namespace);
    return table === undefined ? null : new Map(table);
  }
}
