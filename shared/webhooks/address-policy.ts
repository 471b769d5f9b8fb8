import { lookup as dnsLookup, Resolver as DnsResolver } from "node:dns/promises";
import ipaddr from "ipaddr.js";

/**
 * Which addresses a webhook may reach. Only global unicast passes: loopback, private, link-local
 * (cloud metadata at 169.254.169.254), CGNAT, multicast, reserved and unique-local (fd00:ec2::254)
 * are refused, and IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4, Teredo) are
 * refused too. Classification is ipaddr.js's, not hand-written ranges.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  // process() turns ::ffff:a.b.c.d into a.b.c.d, so a mapped loopback is judged as loopback.
  const parsed = ipaddr.process(address);
  // ipaddr.js calls the deprecated IPv4-compatible range (::a.b.c.d, ::/96) unicast: refuse it,
  // it only ever wraps an IPv4 address.
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).parts.slice(0, 6).every((part) => part === 0)) return false;
  return parsed.range() === "unicast";
}

export type Resolver = (hostname: string) => Promise<string[]>;

/** The OS resolver (hosts file included): what local development needs. It has no timeout of its own. */
const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/**
 * DNS with a bound, for public webhook hosts: a slow (hostile) zone cannot hold a send, or the
 * libuv threads that DynamoDB calls share, for long.
 */
function boundedResolver(timeoutMs = 3000): Resolver {
  const dns = new DnsResolver({ timeout: timeoutMs, tries: 2 });
  return async (hostname) => {
    const [v4, v6] = await Promise.allSettled([dns.resolve4(hostname), dns.resolve6(hostname)]);
    const addresses = [...(v4.status === "fulfilled" ? v4.value : []), ...(v6.status === "fulfilled" ? v6.value : [])];
    if (addresses.length === 0)
      throw (v4.status === "rejected" ? v4.reason : new Error(`${hostname} did not resolve`)) as Error;
    return addresses;
  };
}

class BlockedAddressError extends Error {
  constructor(
    readonly hostname: string,
    readonly address: string,
  ) {
    super(`${hostname} resolves to ${address}, which is not a public address`);
    this.name = "BlockedAddressError";
  }
}

/** The host of a URL as an address or a name (WHATWG URL has already normalised 0x7f.1, 2130706433…). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "");
}

/**
 * Resolves once and returns the addresses to connect to. With `allowPrivate`, anything goes
 * (local development). Otherwise every address must be public: one private answer among public
 * ones is treated as an attempt, not noise.
 */
export async function resolveAllowed(
  hostname: string,
  options: { allowPrivate: boolean; resolve?: Resolver },
): Promise<string[]> {
  const resolve = options.resolve ?? (options.allowPrivate ? systemResolver : boundedResolver());
  const addresses = ipaddr.isValid(hostname) ? [hostname] : await resolve(hostname);
  if (addresses.length === 0) throw new Error(`${hostname} did not resolve`);
  if (!options.allowPrivate) {
    const blocked = addresses.find((address) => !isPublicAddress(address));
    if (blocked) throw new BlockedAddressError(hostname, blocked);
  }
  return addresses;
}
