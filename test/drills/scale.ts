/**
 * How big the drills run. `npm test` runs them at an everyday size, so the whole suite stays well
 * inside CI's time on 2 cores; `npm run test:drills` (RELAY_DRILLS=full) runs them at the size
 * the README's figures quote. The invariants checked are the same at both sizes.
 */
const FULL_DRILLS = process.env.RELAY_DRILLS === "full";

export const drillSize = (everyday: number, full: number): number => (FULL_DRILLS ? full : everyday);
