// mmap-io's CommonJS export is the API object itself, while its type declarations describe it as a default
// export; this module gives the rest of the store the right type for what ESM's default import really yields.
import mmapModule from 'mmap-io';

type MmapApi = (typeof import('mmap-io'))['default'];

export const mmap = mmapModule as unknown as MmapApi;
