/**
 * A V8 heap snapshot (`.heapsnapshot`) summarized for a memory report: self size by
 * constructor (objects) or by kind (strings, arrays, code, array-buffer data), and the
 * largest single nodes with the chain of retainers that holds each (class.field ← …), so
 * that "what holds the memory" is answered without opening DevTools.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: [string[]]; readonly edge_fields: string[]; readonly edge_types: [string[]] } };
  readonly nodes: number[];
  readonly edges: number[];
  readonly strings: string[];
}

export interface HeapSummary {
  /** Self bytes by constructor or kind, largest first. */
  readonly byKind: readonly { readonly kind: string; readonly count: number; readonly bytes: number }[];
  /** The largest nodes: what they are, their bytes, and who holds them. */
  readonly largest: readonly { readonly what: string; readonly bytes: number; readonly heldBy: string }[];
  readonly totalBytes: number;
}

export function summarizeHeap(path: string, top = 12): HeapSummary {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const nf = s.snapshot.meta.node_fields;
  const ef = s.snapshot.meta.edge_fields;
  const nodeTypes = s.snapshot.meta.node_types[0];
  const edgeTypes = s.snapshot.meta.edge_types[0];
  const N = nf.length;
  const E = ef.length;
  const [fType, fName, fSize, fEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => nf.indexOf(f)) as [number, number, number, number];
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f)) as [number, number, number];
  const count = s.nodes.length / N;
  const kindOf = (n: number): string => {
    const type = nodeTypes[s.nodes[n * N + fType]!]!;
    const name = s.strings[s.nodes[n * N + fName]!]!;
    return type === 'object' || type === 'native' || type === 'closure' ? name : `(${type})`;
  };
  // Retainers: the first strong edge pointing at each of the largest nodes, then at those
  // retainers, and so on (one pass over the edges per level), as a chain `a.x ← b.y ← …`.
  const firstEdge = new Uint32Array(count + 1);
  for (let n = 0; n < count; n++) firstEdge[n + 1] = firstEdge[n]! + s.nodes[n * N + fEdges]!;
  const bySize = Array.from({ length: count }, (_, n) => n)
    .sort((a, b) => s.nodes[b * N + fSize]! - s.nodes[a * N + fSize]!)
    .slice(0, top);
  const holder = new Map<number, { from: number; edge: string }>();
  let wanted = new Set(bySize);
  for (let level = 0; level < 4 && wanted.size > 0; level++) {
    const next = new Set<number>();
    for (let from = 0; from < count; from++) {
      for (let e = firstEdge[from]!; e < firstEdge[from + 1]!; e++) {
        const to = s.edges[e * E + eTo]! / N;
        if (!wanted.has(to) || holder.has(to)) continue;
        const type = edgeTypes[s.edges[e * E + eType]!]!;
        if (type === 'weak' || type === 'shortcut') continue;
        const raw = s.edges[e * E + eName]!;
        holder.set(to, { from, edge: type === 'element' || type === 'hidden' ? `[${raw}]` : s.strings[raw]! });
        next.add(from);
      }
    }
    wanted = next;
  }
  const chain = (n: number): string => {
    const parts: string[] = [];
    for (let at = holder.get(n), depth = 0; at !== undefined && depth < 4; at = holder.get(at.from), depth++) parts.push(`${kindOf(at.from)}.${at.edge}`);
    return parts.join(' ← ') || '(root)';
  };
  const byKindMap = new Map<string, { count: number; bytes: number }>();
  let totalBytes = 0;
  for (let n = 0; n < count; n++) {
    const k = kindOf(n);
    const size = s.nodes[n * N + fSize]!;
    totalBytes += size;
    const entry = byKindMap.get(k) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += size;
    byKindMap.set(k, entry);
  }
  const byKind = [...byKindMap].map(([kind, v]) => ({ kind, ...v })).sort((a, b) => b.bytes - a.bytes).slice(0, top);
  const largest = bySize.map((n) => ({
    what: kindOf(n),
    bytes: s.nodes[n * N + fSize]!,
    heldBy: chain(n),
  }));
  return { byKind, largest, totalBytes };
}
