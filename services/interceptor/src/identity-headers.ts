/**
 * Request headers that say who the client is or how it reached us. The interceptor is the only
 * authority for them towards the upstream: from a peer that is not a trusted proxy, every
 * forwarding header (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`) is removed and replaced by the
 * interceptor's own; the subject header is removed from everyone, in every spelling an upstream
 * framework might fold into the same name (node lower-cases names; `_` for `-` is what nginx,
 * CGI/WSGI/PHP environments and some frameworks read as the same header).
 */

/** The subject header's canonical spelling: lower case, `_` read as `-`. */
export function canonicalHeaderName(name: string): string {
  return name.includes('_') ? name.toLowerCase().replace(/_/g, '-') : name.toLowerCase();
}

/** Is this (lower-case) request header the subject header in some spelling? */
export function isSubjectHeader(name: string, subjectHeader: string): boolean {
  if (subjectHeader === '') return false;
  return name === subjectHeader || (name.length === subjectHeader.length && canonicalHeaderName(name) === subjectHeader);
}

/** Is this (lower-case) request header one a client uses to say where it came from? */
export function isForwardingHeader(name: string): boolean {
  const n = name.includes('_') ? name.replace(/_/g, '-') : name;
  return n === 'forwarded' || n === 'x-real-ip' || n.startsWith('x-forwarded-') || n === 'x-client-ip' || n === 'true-client-ip' || n === 'x-cluster-client-ip';
}

/** RFC 7239 node value: IPv6 in brackets, quoted (':' is not a token character); IPv4 as is. */
export function forwardedNode(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

/** RFC 7239 quoted-string: the value escaped ('"' and '\\'), control characters dropped. */
export function forwardedQuoted(v: string): string {
  return `"${v.replace(/[\u0000-\u001f\u007f]/g, '').replace(/["\\]/g, '\\$&')}"`;
}

/** Removes every spelling of the subject header from a header map (the middleware's request, before the application reads it). */
export function stripSubjectHeader(headers: Record<string, unknown>, rawHeaders: string[] | undefined, subjectHeader: string): boolean {
  let found = false;
  for (const k of Object.keys(headers)) {
    if (isSubjectHeader(k, subjectHeader)) {
      delete headers[k];
      found = true;
    }
  }
  if (found && rawHeaders) {
    // rawHeaders is [name, value, name, value, ...]: frameworks read it too (Fastify's raw, some loggers)
    for (let i = rawHeaders.length - 2; i >= 0; i -= 2) if (isSubjectHeader(rawHeaders[i]!.toLowerCase(), subjectHeader)) rawHeaders.splice(i, 2);
  }
  return found;
}
