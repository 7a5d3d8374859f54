// The tag code kept in consume-queue entries and in subscription code sets: Java's String.hashCode()
// (h = 31*h + c over UTF-16 code units, int32 overflow), widened to a long. 0 means "no tag".

export function tagHashCode(tag: string | undefined | null): number {
  if (!tag) return 0;
  let h = 0;
  for (let i = 0; i < tag.length; i++) h = (Math.imul(31, h) + tag.charCodeAt(i)) | 0;
  return h;
}
