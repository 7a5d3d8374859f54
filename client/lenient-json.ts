// JSON as Java name servers write it. Before protocol version 401 (and without acceptStandardJsonOnly)
// fastjson writes integer map keys unquoted: {"brokerAddrs":{0:"10.0.0.1:10911"}}. Standard JSON is
// tried first; only when it fails are bare integer keys quoted and the text parsed again.

/** Parses `text`, tolerating unquoted integer object keys. Throws SyntaxError for anything else. */
export function parseLenientJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    const repaired = quoteBareIntegerKeys(text);
    if (repaired === text) throw first;
    return JSON.parse(repaired);
  }
}

/** Quotes integer keys that follow `{` or `,` outside string literals: `{0:"a",-1:"b"}` → `{"0":"a","-1":"b"}`. */
export function quoteBareIntegerKeys(text: string): string {
  let out = '';
  let inString = false;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      out += ch;
      if (ch === '\\') {
        out += text[i + 1] ?? '';
        i++;
      } else if (ch === '"') {
        inString = false;
      }
      continue;
    }
    if (ch === '"') {
      inString = true;
      expectKey = false;
      out += ch;
      continue;
    }
    if (ch === '{' || ch === ',') {
      expectKey = true;
      out += ch;
      continue;
    }
    if (expectKey && /[-0-9]/.test(ch)) {
      const match = /^-?\d+(?=\s*:)/.exec(text.slice(i, i + 32));
      if (match !== null) {
        out += `"${match[0]}"`;
        i += match[0].length - 1;
        expectKey = false;
        continue;
      }
    }
    if (!/\s/.test(ch)) expectKey = false;
    out += ch;
  }
  return out;
}
