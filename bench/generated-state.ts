/**
 * Large compiled states for the load benches, in the shape `@allot/admin` compiles to
 * (segments keyed by name, bitsets as base64 gzip): each segment has a one-criterion audience
 * and an allocation, half scattered (2,000 random buckets, as the allocator picks them) and
 * half blocks of 16 buckets (1%); one flag per 5 segments, a rule on each. Deterministic.
 */
import { gzipSync } from 'node:zlib';

export const SECRET = 'bench-secret';
const BUCKETS = 1_000_000;

/** A deterministic generator (mulberry32), so both rows load the same bytes. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bitset(rand: () => number, blocks: boolean): string {
  const bytes = new Uint8Array(BUCKETS / 8);
  const set = (i: number): void => {
    bytes[i >> 3]! |= 1 << (i & 7);
  };
  if (blocks) for (let b = 0; b < 625; b++) for (let i = 0, start = Math.floor(rand() * (BUCKETS / 16)) * 16; i < 16; i++) set(start + i);
  else for (let b = 0; b < 2_000; b++) set(Math.floor(rand() * BUCKETS));
  return gzipSync(bytes).toString('base64');
}

/** A compiled state of `segments` segments; `revision` changes one segment's audience and one flag. */
export function stateText(segments: number, revision: number): string {
  const rand = random(segments);
  const seg: Record<string, object> = {};
  const bits: Record<string, string> = {};
  const flags: Record<string, object> = {};
  for (let i = 0; i < segments; i++) {
    const name = `segments/s${i}`;
    const country = i === 0 ? `C${revision}` : `C${i % 50}`;
    seg[name] = {
      name,
      targeting: { criteria: { c: { attribute: { attributeName: 'country', eqRule: { value: { stringValue: country } } } } }, expression: { ref: 'c' } },
    };
    bits[name] = bitset(rand, i % 2 === 1);
  }
  for (let f = 0; f < segments / 5; f++) {
    const name = `flags/f${f}`;
    const rules = [0, 1, 2, 3, 4].map((k) => ({
      name: `${name}/rules/r${k}`,
      segment: `segments/s${f * 5 + k}`,
      enabled: true,
      targetingKeySelector: '',
      assignmentSpec: {
        bucketCount: 2,
        assignments: [
          { assignmentId: 'a', variant: { variant: `${name}/variants/on` }, bucketRanges: [{ lower: 0, upper: 1 }] },
          { assignmentId: 'b', variant: { variant: `${name}/variants/off` }, bucketRanges: [{ lower: 1, upper: 2 }] },
        ],
      },
    }));
    flags[name] = {
      name,
      state: 'ACTIVE',
      clients: ['clients/bench'],
      variants: [
        { name: `${name}/variants/on`, value: f === 1 ? { enabled: true, revision } : { enabled: true } },
        { name: `${name}/variants/off`, value: { enabled: false } },
      ],
      rules,
    };
  }
  return JSON.stringify({
    account: { name: 'accounts/bench' },
    clients: { [SECRET]: { client: { name: 'clients/bench' }, clientCredential: { name: 'clients/bench/credentials/c' } } },
    segments: seg,
    bitsets: bits,
    flags,
  });
}

// Run directly: node dist/generated-state.js SEGMENTS REVISION > state.json
if (process.argv[1]?.endsWith('generated-state.js') === true && process.argv[2] !== undefined) {
  process.stdout.write(stateText(Number(process.argv[2]), Number(process.argv[3] ?? 1)));
}
