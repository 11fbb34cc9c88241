/**
 * Scenarios given as a state sketch (segments with proportions and coordination tags, flags
 * with rules and splits), allocated by the simulation's own plain allocator. Timeline steps
 * patch the sketch: `segments` (merge by name: raise a proportion, change tags or audience),
 * `rules` (merge by rule name: pause intake, enable, change a split), `addRules`, `seed`.
 * Raising a proportion keeps every bucket (the allocator takes a longer prefix of the same
 * random order), so raised segments are checked to be monotone automatically.
 */
import { claimsOfSketch, stateFromSketch, type FlagSketch, type RuleSketch, type SegmentSketch, type StateSketch } from '../testing/sketch.js';
import type { ConfiguredStep } from '../types.js';
import { ScenarioError } from './errors.js';
import { attributes, isObject } from './population-spec.js';

type Json = Record<string, unknown>;

function asSketch(raw: unknown, path: string): StateSketch {
  if (!isObject(raw) || !Array.isArray(raw.segments) || !Array.isArray(raw.flags)) throw new ScenarioError(path, 'expected {segments: [...], flags: [...]}');
  return raw as unknown as StateSketch;
}

function patch(sketch: StateSketch, step: Json, path: string): StateSketch {
  const segments = [...sketch.segments];
  if (step.segments !== undefined) {
    if (!isObject(step.segments)) throw new ScenarioError(`${path}.segments`, 'expected segment name: {proportion, coordination, targeting}');
    for (const [name, change] of Object.entries(step.segments)) {
      const i = segments.findIndex((s) => s.name === name);
      if (i < 0) segments.push({ name, ...(change as object) } as SegmentSketch);
      else segments[i] = { ...segments[i]!, ...(change as object) };
    }
  }
  let flags: FlagSketch[] = sketch.flags.map((f) => ({ ...f, rules: [...f.rules] }));
  if (step.rules !== undefined) {
    if (!isObject(step.rules)) throw new ScenarioError(`${path}.rules`, 'expected rule name: {enabled, split, materializationSpec}');
    for (const [name, change] of Object.entries(step.rules)) {
      const flag = flags.find((f) => f.rules.some((r) => r.name === name));
      if (flag === undefined) throw new ScenarioError(`${path}.rules.${name}`, 'no such rule in the previous step');
      flags = flags.map((f) => (f !== flag ? f : { ...f, rules: f.rules.map((r) => (r.name === name ? { ...r, ...(change as object) } : r)) }));
    }
  }
  if (step.addRules !== undefined) {
    if (!Array.isArray(step.addRules)) throw new ScenarioError(`${path}.addRules`, 'expected a list of {flag, index, rule}');
    step.addRules.forEach((a: unknown, i) => {
      const o = isObject(a) ? a : {};
      const f = flags.findIndex((x) => x.name === o.flag);
      if (f < 0) throw new ScenarioError(`${path}.addRules[${i}].flag`, `no flag ${JSON.stringify(o.flag)}`);
      const rules = [...flags[f]!.rules];
      rules.splice(typeof o.index === 'number' ? o.index : rules.length, 0, o.rule as RuleSketch);
      flags[f] = { ...flags[f]!, rules };
    });
  }
  return { ...sketch, segments, flags, ...(typeof step.seed === 'number' ? { seed: step.seed } : {}) };
}

function configured(sketch: StateSketch, label: string, description: string, extra: { attributes: ConfiguredStep['attributes']; monotone: readonly string[] }): ConfiguredStep {
  return { label, description, state: stateFromSketch(sketch), ...claimsOfSketch(sketch), ...extra };
}

export function sketchSteps(raw: unknown, timeline: readonly Json[]): ConfiguredStep[] {
  let sketch = asSketch(raw, 'sketch');
  const steps = [configured(sketch, 'initial', '', { attributes: [], monotone: [] })];
  timeline.forEach((step, i) => {
    const path = `timeline[${i}]`;
    const next = patch(sketch, step, path);
    const raised = next.segments.filter((s) => {
      const before = sketch.segments.find((b) => b.name === s.name);
      return before !== undefined && s.proportion >= before.proportion && JSON.stringify(s.coordination) === JSON.stringify(before.coordination);
    });
    const explicit = Array.isArray(step.monotone) ? step.monotone.map(String) : [];
    steps.push(
      configured(next, typeof step.label === 'string' ? step.label : `step ${i + 1}`, typeof step.description === 'string' ? step.description : '', {
        attributes: attributes(step.attributes, `${path}.attributes`),
        monotone: [...new Set([...raised.filter((s) => s.proportion > (sketch.segments.find((b) => b.name === s.name)?.proportion ?? 0)).map((s) => s.name), ...explicit])],
      }),
    );
    sketch = next;
  });
  return steps;
}
