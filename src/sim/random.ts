/**
 * A small seeded PRNG (mulberry32) so simulations, benchmarks and random tests can be replayed
 * from a printed seed.
 */
export class Random {
  private state: number;

  /** @param seed any 32-bit integer */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** next uniform u32 */
  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** uniform float in [0, 1) */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** uniform integer in [min, max] */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  /** true with probability `p` */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** one element of `list` */
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.float() * list.length)]!;
  }
}
