import { lookup as dnsLookup } from "node:dns/promises";
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
  return parsed.range() === "unicast";
}

export type Resolver = (hostname: string) => Promise<string[]>;

export const systemResolver: Resolver = async (hostname) => (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

export class BlockedAddressError extends Error {
  constructor(readonly hostname: string, readonly address: string) {
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
export async function resolveAllowed(hostname: string, options: { allowPrivate: boolean; resolve?: Resolver }): Promise<string[]> {
  const addresses = ipaddr.isValid(hostname) ? [hostname] : await (options.resolve ?? systemResolver)(hostname);
  if (addresses.length === 0) throw new Error(`${hostname} did not resolve`);
  if (!options.allowPrivate) {
    const blocked = addresses.find((address) => !isPublicAddress(address));
    if (blocked) throw new BlockedAddressError(hostname, blocked);
  }
  return addresses;
}
