/**
 * Specialized flags: each flag's rule walk written, at load, as JavaScript for that flag
 * alone and compiled by the engine (`new Function`). It takes exactly the steps of `walk` in
 * resolve.ts, in the same order, but with what the state fixes written in: disabled rules
 * and rules without a segment left out, context fields read by name, the targeting tree as
 * one boolean expression (text and number criteria inline for values of their own type),
 * bucket ranges as comparisons. Each flag gets its own code, so the engine sees one shape of
 * context and one set of criteria at every site and can inline them; the generic walk's
 * shared closures see every flag's.
 *
 * Nothing from the state is written into the code as source except through `JSON.stringify`
 * (strings) and `String` of finite numbers; everything else (segments, prefixes, results,
 * test functions) is passed in as a constant. specialize.test.ts checks the two walks agree
 * on generated states.
 */
import { plainKeyOf } from '../state/context-path.js';
import { inAllocation, inMaterialization, type CompiledSegment, type TargetingNode } from '../state/segments.js';
import { noMatchOf, resultOf, stickyResultOf, targetingKeyErrorOf, type CompiledFlag, type CompiledRule, type FlagProgram } from '../state/flags.js';
import type { ScalarShape } from '../state/value-rules.js';
import { assignmentFor, hasOwn, inEnvironment, readRecord, stickyAssignment, withFallthroughs } from './steps.js';
import { unitOf } from './unit.js';

/** Ranges compared inline up to this many per rule; more go through `assignmentFor`. */
const INLINE_RANGES = 16;
/** Values of a text or number criterion compared inline up to this many; more use a Set. */
const INLINE_VALUES = 8;

/** The shared steps every program may call, by the names the code uses. */
const STEPS: Readonly<Record<string, unknown>> = {
  unitOf,
  inEnvironment,
  readRecord,
  stickyAssignment,
  stickyResultOf,
  resultOf,
  assignmentFor,
  withFallthroughs,
  hasOwn,
  inAllocation,
  inMaterialization,
};

/** Constants handed to the generated code, each under a name of its own. */
class Constants {
  readonly names: string[] = [];
  readonly values: unknown[] = [];
  private readonly known = new Map<unknown, string>();

  ref(value: unknown): string {
    let name = this.known.get(value);
    if (name === undefined) {
      name = `k${this.names.length}`;
      this.known.set(value, name);
      this.names.push(name);
      this.values.push(value);
    }
    return name;
  }
}

/** A finite number as source (parenthesized: `(-1)`, `(-0)`). */
function numberSource(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`);
  return `(${Object.is(n, -0) ? '-0' : String(n)})`;
}

/**
 * Writes a flag's rule walk as a function of (client, context, access, frame). Returns null
 * when the engine will not compile it (a platform that forbids generated code, such as a
 * Content-Security-Policy without 'unsafe-eval'): the flag keeps the generic walk. Never throws.
 */
export function specializeFlag(flag: CompiledFlag, targetingKeyAlias: string): FlagProgram | null {
  const k = new Constants();
  const body: string[] = [];
  const selectors = new Map<string, string>();
  const unitVars: string[] = [];
  body.push('let fallthroughs = null;', 'let v;');

  flag.rules.forEach((rule, i) => {
    if (!rule.enabled || rule.segment === null) return; // never taken
    const label = `r${i}`;
    const full = rule.blankSelector && rule.fullRollout !== null; // needs no unit
    body.push(`${label}: {`);
    if (rule.environments !== null) body.push(`if (!inEnvironment(client, ${k.ref(rule.environments)})) break ${label};`);

    // The unit: read once per selector (a second read would give the same value).
    const key = plainKeyOf(rule.selector, targetingKeyAlias);
    const read = key !== null ? `context[${JSON.stringify(key)}]` : `${k.ref(rule.readUnit)}(context)`;
    let unitVar = selectors.get(rule.selector);
    if (unitVar === undefined) {
      unitVar = `u${selectors.size}`;
      selectors.set(rule.selector, unitVar);
      unitVars.push(unitVar);
      body.push(`${unitVar} = unitOf(${read});`);
    } else {
      body.push(`if (${unitVar} === UNREAD) ${unitVar} = unitOf(${read});`);
    }
    body.push(`let unit = ${unitVar};`);
    body.push(
      full
        ? 'if (unit === undefined) unit = null;'
        : `if (unit === undefined) return withFallthroughs(${k.ref(targetingKeyErrorOf(flag))}, fallthroughs, fallthroughs !== null);`,
    );
    if (!full) body.push(`if (unit === null) break ${label};`);
    body.push('frame.unit = unit;');

    const segment = rule.segment;
    const mat = rule.materialization;
    const readsStored = mat !== null && mat.read !== '';
    if (readsStored) {
      body.push(
        `if (unit === null) break ${label};`,
        `const record = access === null ? null : readRecord(access, unit, ${JSON.stringify(mat.read)});`,
        'let admitted = false;',
        'if (record === null || !record.isUnitInMaterialization) {',
        mat.mustMatch ? `break ${label};` : '',
        '} else {',
        `admitted = ${mat.ignoreTargeting ? 'true' : audienceSource(segment, k)};`,
        `if (frame.unrecognized) { frame.unrecognized = false; break ${label}; }`,
        'if (admitted) {',
        'const map = record.ruleToVariant;',
        `const sticky = hasOwn(map, ${JSON.stringify(rule.name)}) ? stickyAssignment(${k.ref(rule)}, map[${JSON.stringify(rule.name)}], unit) : null;`,
        `if (sticky !== null) return withFallthroughs(stickyResultOf(${k.ref(flag)}, ${k.ref(rule)}, sticky), fallthroughs, true);`,
        '}',
        '}',
        'if (!admitted) {',
      );
    }
    body.push(
      `const matched = ${matchesSource(segment, k)};`,
      `if (frame.unrecognized) { frame.unrecognized = false; break ${label}; }`,
      `if (!matched) break ${label};`,
    );
    if (readsStored) body.push('}');

    body.push(...assignmentSource(rule, k), `if (a === null) break ${label};`);
    if (mat !== null && mat.write !== '') {
      body.push(
        'if (unit !== null && access !== null && access.write !== undefined) {',
        `access.write({ unit, materialization: ${JSON.stringify(mat.write)}, rule: ${JSON.stringify(rule.name)}, variant: a.variant === null ? '' : a.variant.name });`,
        '}',
      );
    }
    body.push(
      `if (a.type === 'fallthrough') { (fallthroughs ??= []).push(a.fallthrough); break ${label}; }`,
      `return withFallthroughs(resultOf(${k.ref(flag)}, ${k.ref(rule)}, a), fallthroughs, true);`,
      '}',
    );
  });
  body.push(`return withFallthroughs(${k.ref(noMatchOf(flag))}, fallthroughs, fallthroughs !== null);`);

  const steps = Object.keys(STEPS);
  const source = [
    "'use strict';",
    // Constants as locals of the factory, not as its parameters: a flag may need thousands.
    k.names.length > 0 ? `const [${k.names.join(', ')}] = constants;` : '',
    'const UNREAD = {};',
    `return function resolve_${flag.name.replace(/[^A-Za-z0-9_$]/g, '_')}(client, context, access, frame) {`,
    unitVars.length > 0 ? `let ${unitVars.map((u) => `${u} = UNREAD`).join(', ')};` : '',
    ...body,
    '};',
  ].join('\n');
  try {
    // The point of this module: code written for the flag (see the header on what goes in it).
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const factory = new Function(...steps, 'constants', source) as (...args: unknown[]) => FlagProgram;
    return factory(...steps.map((name) => STEPS[name]), k.values);
  } catch {
    // Generated code forbidden here (an EvalError under a Content-Security-Policy), or more
    // than the engine takes: the flag keeps the generic walk, which answers the same.
    return null;
  }
}

/** Source of `segment.matches(frame)`: targeting, then the allocation. */
function matchesSource(segment: CompiledSegment, k: Constants): string {
  // A segment on a reference cycle guards against re-entry: its own method does that.
  if (segment.inCycle) return `${k.ref(segment)}.matches(frame)`;
  const parts: string[] = [];
  if (segment.targetingTree !== null) parts.push(targetingSource(segment.targetingTree, k));
  if (segment.bitset !== null) parts.push(`inAllocation(${k.ref(segment)}, frame)`);
  return parts.length === 0 ? 'true' : parts.join(' && ');
}

/** Source of `segment.audience(frame)`: targeting only. */
function audienceSource(segment: CompiledSegment, k: Constants): string {
  if (segment.inCycle) return `${k.ref(segment)}.audience(frame)`;
  return segment.targetingTree === null ? 'true' : targetingSource(segment.targetingTree, k);
}

/** A targeting tree as one expression, evaluated left to right, short-circuiting, as the closures do. */
function targetingSource(node: TargetingNode, k: Constants): string {
  switch (node.kind) {
    case 'constant':
      return node.value ? 'true' : 'false';
    case 'not':
      return `!(${targetingSource(node.inner, k)})`;
    case 'and':
    case 'or':
      return `(${node.parts.map((p) => targetingSource(p, k)).join(node.kind === 'and' ? ' && ' : ' || ')})`;
    case 'attribute': {
      const value = node.key !== null ? `context[${JSON.stringify(node.key)}]` : `${k.ref(node.read)}(context)`;
      const test = k.ref(node.test);
      if (node.shape === null) return `${test}(${value})`;
      return `((v = ${value}), typeof v === '${node.shape.of}' ? ${shapeSource(node.shape, k)} : ${test}(v))`;
    }
    case 'segment':
      return `${k.ref(node.target)}.matches(frame)`;
    case 'bloom':
      return `(frame.unit !== null && ${k.ref(node.filter)}.mightContain(frame.unit))`;
    case 'materialization':
      return `inMaterialization(frame, ${JSON.stringify(node.name)})`;
    case 'unrecognized':
      return '((frame.unrecognized = true), false)';
  }
}

/** The test of a shaped criterion on `v`, a value of the shape's type. */
function shapeSource(shape: ScalarShape, k: Constants): string {
  if ('range' in shape) {
    const { start, startInclusive, end, endInclusive } = shape.range;
    const tests: string[] = [];
    if (start !== null) tests.push(`v ${startInclusive ? '>=' : '>'} ${numberSource(start)}`);
    if (end !== null) tests.push(`v ${endInclusive ? '<=' : '<'} ${numberSource(end)}`);
    return tests.length === 0 ? 'true' : `(${tests.join(' && ')})`;
  }
  const values: readonly (string | number)[] = shape.oneOf;
  if (values.length === 0) return 'false';
  if (values.length > INLINE_VALUES) return `${k.ref(new Set<unknown>(values))}.has(v)`;
  const literal = (x: string | number): string => (typeof x === 'string' ? JSON.stringify(x) : numberSource(x));
  return `(${values.map((x) => `v === ${literal(x)}`).join(' || ')})`;
}

/** Statements setting `a` to the rule's assignment for `unit` (null when no range holds its bucket). */
function assignmentSource(rule: CompiledRule, k: Constants): string[] {
  if (rule.fullRollout !== null) return [`const a = ${k.ref(rule.fullRollout)};`];
  const bucket = `const b = ${k.ref(rule.prefix)}.bucket(unit, ${rule.bucketCount});`;
  const ranges = rule.ranges;
  if (ranges.length / 3 > INLINE_RANGES) return [bucket, `const a = assignmentFor(${k.ref(rule)}, b);`];
  let source = 'null';
  for (let i = ranges.length - 3; i >= 0; i -= 3) {
    const assignment = rule.assignments[ranges[i + 2]!]!;
    source = `b >= ${ranges[i]!} && b < ${ranges[i + 1]!} ? ${k.ref(assignment)} : ${source}`;
  }
  return [bucket, `const a = ${source};`];
}
