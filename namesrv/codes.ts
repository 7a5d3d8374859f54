// Request codes the name server serves that remoting/codes.ts does not list, and well-known KV namespaces.

export const NamesrvRequestCode = {
  /** Body `{"table":{...}}` with every key of a namespace. */
  GET_KVLIST_BY_NAMESPACE: 219,
} as const;

/** Namespace clients read at start (GET_KV_CONFIG) and brokers get back in the registration response. */
export const ORDER_TOPIC_CONFIG_NAMESPACE = 'ORDER_TOPIC_CONFIG';
