import UAParser from 'ua-parser-js';
import { LRUCache } from 'lru-cache';
import type { UserAgentInfo } from '@jwt-audit/events';

/**
 * User agents through ua-parser-js 1.x (MIT). `device` is the model when the UA names one
 * (iPhone, Pixel 7), else its type (mobile, tablet, smarttv ...), else null: desktop browsers do
 * not say. A UA masked upstream (it carried a secret) still parses: only the secret was replaced.
 */
export function parseUserAgent(ua: string): UserAgentInfo | null {
  if (!ua.trim()) return null;
  const r = new UAParser(ua).getResult();
  const info: UserAgentInfo = {
    name: r.browser.name ?? null,
    version: r.browser.version ?? null,
    os: r.os.name ?? null,
    osVersion: r.os.version ?? null,
    device: r.device.model ?? r.device.type ?? null,
  };
  if (info.name) return info;
  // not a browser: tools and SDKs mostly say `product/version` (curl/8.5.0, okhttp/4.12.0)
  const m = /^([^\s/]{1,64})(?:\/([^\s;()]{1,32}))?/.exec(ua.trim());
  return { ...info, name: m?.[1] ?? null, version: m?.[2] ?? null };
}

/**
 * The same few user agents make up most traffic and parsing one is a few dozen regexes, so the
 * results are kept in a small lru-cache. lru-cache holds no null, and "not a user agent" is worth
 * remembering too, so each result is boxed.
 */
export function createUserAgentCache(max = 2_000): (ua: string) => UserAgentInfo | null {
  const cache = new LRUCache<string, { info: UserAgentInfo | null }>({ max });
  return (ua) => {
    const hit = cache.get(ua);
    if (hit !== undefined) return hit.info;
    const info = parseUserAgent(ua);
    cache.set(ua, { info });
    return info;
  };
}
