/**
 * Scenario files (`simulations/*.yaml`): a configuration (a compiled state, or an admin
 * workspace), a population, an optional timeline of configuration changes, and what the
 * configuration claims (coordination tags, proportions, splits, exclusion groups) for the
 * checks to hold it to. Parsed once into a typed `Scenario`; errors name the path.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { parse as parseYaml } from 'yaml';

import type { AttributeSpec, CheckOptions, ConfiguredStep, Coordination, ExclusionGroupSpec, Scenario } from '../types.js';
import { claimsSpec } from './claims-spec.js';
import { ScenarioError } from './errors.js';
import { attributes, isObject, num, populationSpec } from './population-spec.js';
import { workspaceSteps } from '../workspace/steps.js';

type Json = Record<string, unknown>;

/** Claims of the configuration carried from step to step (each step may override them). */
export interface Claims {
  readonly coordination: Readonly<Record<string, Coordination>>;
  readonly proportions: Readonly<Record<string, number>>;
  readonly splits: ConfiguredStep['splits'];
  readonly groups: readonly ExclusionGroupSpec[];
}

export interface ScenarioContext {
  /** Directory that relative paths in the scenario are resolved against. */
  readonly baseDir: string;
}

function readReferenced(value: unknown, baseDir: string, path: string): unknown {
  if (typeof value !== 'string') return value;
  const file = resolve(baseDir, value);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ScenarioError(path, `cannot read ${value}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ScenarioError(path, `${value} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
}

function strings(v: unknown, path: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ScenarioError(path, 'expected a list of strings');
  return v as string[];
}

function coordination(raw: unknown, path: string): Record<string, Coordination> {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new ScenarioError(path, 'expected segment: {exclusivityTags, exclusiveTo}');
  const out: Record<string, Coordination> = {};
  for (const [name, c] of Object.entries(raw)) {
    const o = isObject(c) ? c : {};
    out[name] = { exclusivityTags: strings(o.exclusivityTags, `${path}.${name}.exclusivityTags`), exclusiveTo: strings(o.exclusiveTo, `${path}.${name}.exclusiveTo`) };
  }
  return out;
}

function numberMap(raw: unknown, path: string): Record<string, number> {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new ScenarioError(path, 'expected a map of name: number');
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, num(v, `${path}.${k}`, 0, 1)]));
}

function splits(raw: unknown, path: string): ConfiguredStep['splits'] {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new ScenarioError(path, 'expected flag: {rule: {variant: share}}');
  return Object.fromEntries(
    Object.entries(raw).map(([flag, rules]) => {
      if (!isObject(rules)) throw new ScenarioError(`${path}.${flag}`, 'expected rule: {variant: share}');
      return [flag, Object.fromEntries(Object.entries(rules).map(([rule, shares]) => [rule, numberMap(shares, `${path}.${flag}.${rule}`)]))];
    }),
  );
}

function groups(raw: unknown, path: string): ExclusionGroupSpec[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new ScenarioError(path, 'expected a list of {name, members: [{flag, segment}]}');
  return raw.map((g: unknown, i) => {
    const o = isObject(g) ? g : {};
    const members = Array.isArray(o.members) ? o.members : [];
    return {
      name: typeof o.name === 'string' ? o.name : `group ${i + 1}`,
      members: members.map((m: unknown, j) => {
        const mo = isObject(m) ? m : {};
        if (typeof mo.flag !== 'string' || typeof mo.segment !== 'string') throw new ScenarioError(`${path}[${i}].members[${j}]`, 'expected {flag, segment}');
        return { flag: mo.flag, segment: mo.segment };
      }),
    };
  });
}

/** The claims a section states, over the ones inherited. */
export function claimsOf(o: Json, path: string, inherited: Claims): Claims {
  return {
    coordination: { ...inherited.coordination, ...coordination(o.coordination, `${path}.coordination`) },
    proportions: { ...inherited.proportions, ...numberMap(o.proportions, `${path}.proportions`) },
    splits: { ...inherited.splits, ...splits(o.splits, `${path}.splits`) },
    groups: o.groups === undefined ? inherited.groups : groups(o.groups, `${path}.groups`),
  };
}

function checkOptions(raw: unknown, path: string): CheckOptions {
  const o = isObject(raw) ? raw : {};
  const allow = o.allowCorrelated === undefined ? [] : o.allowCorrelated;
  if (!Array.isArray(allow) || allow.some((p) => !Array.isArray(p) || p.length !== 2)) throw new ScenarioError(`${path}.allowCorrelated`, 'expected a list of [flag, flag] pairs');
  const inconclusive = o.allowInconclusive ?? false;
  if (typeof inconclusive !== 'boolean' && (!Array.isArray(inconclusive) || inconclusive.some((x) => typeof x !== 'string'))) {
    throw new ScenarioError(`${path}.allowInconclusive`, 'expected true, or a list of claim names and check subjects that no unit may reach');
  }
  return {
    alpha: o.alpha === undefined ? 0.01 : num(o.alpha, `${path}.alpha`, 0, 1),
    allowCorrelated: (allow as [unknown, unknown][]).map(([a, b]) => [String(a), String(b)] as const),
    allowInconclusive: inconclusive as boolean | string[],
    mde: powerSpec(o.power, `${path}.power`),
  };
}

/** `power: { mde: 0.5pp }`: the largest minimal detectable effect allowed, as a share. */
function powerSpec(raw: unknown, path: string): number | null {
  if (raw === undefined || raw === null) return null;
  if (!isObject(raw)) throw new ScenarioError(path, 'expected { mde: 0.5pp }');
  const v = raw.mde;
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*pp\s*$/.exec(v) : null;
  const pp = typeof v === 'number' ? v : m !== null ? Number(m[1]) : NaN;
  if (!(pp > 0 && pp < 100)) throw new ScenarioError(`${path}.mde`, `expected percentage points such as 0.5pp, got ${JSON.stringify(v)}`);
  return pp / 100;
}

/** The configured steps of a state scenario: `root.state`, then one per `root.timeline` entry. */
export function stateSteps(root: Json, ctx: ScenarioContext): ConfiguredStep[] {
  const base = claimsOf(root, 'scenario', { coordination: {}, proportions: {}, splits: {}, groups: [] });
  const first: ConfiguredStep = {
    label: 'initial',
    description: '',
    state: readReferenced(root.state, ctx.baseDir, 'state'),
    coordination: base.coordination,
    proportions: base.proportions,
    splits: base.splits,
    groups: base.groups,
    attributes: [],
    monotone: [],
  };
  const timeline = root.timeline ?? [];
  if (!Array.isArray(timeline)) throw new ScenarioError('timeline', 'expected a list of steps');
  const steps = [first];
  timeline.forEach((raw: unknown, i) => {
    const path = `timeline[${i}]`;
    if (!isObject(raw)) throw new ScenarioError(path, 'expected a step object');
    const prev = steps[steps.length - 1]!;
    const claims = claimsOf(raw, path, prev);
    steps.push({
      ...claims,
      label: typeof raw.label === 'string' ? raw.label : `step ${i + 1}`,
      description: typeof raw.description === 'string' ? raw.description : '',
      state: raw.state === undefined ? prev.state : readReferenced(raw.state, ctx.baseDir, `${path}.state`),
      attributes: attributes(raw.attributes, `${path}.attributes`),
      monotone: strings(raw.monotone, `${path}.monotone`),
    });
  });
  return steps;
}

/** Parses a scenario document (already read from YAML). */
export function scenarioFrom(doc: unknown, ctx: ScenarioContext, fallbackName = 'scenario'): Scenario {
  if (!isObject(doc)) throw new ScenarioError('scenario', 'expected a mapping with name, state or workspace, population');
  let steps: ConfiguredStep[];
  if (doc.workspace !== undefined) {
    const timeline = doc.timeline ?? [];
    if (!Array.isArray(timeline)) throw new ScenarioError('timeline', 'expected a list of steps');
    steps = workspaceSteps(readReferenced(doc.workspace, ctx.baseDir, 'workspace'), doc.operations, timeline.map((t: unknown) => (isObject(t) ? t : {}))).steps;
  } else if (doc.state !== undefined) {
    steps = stateSteps(doc, ctx);
  } else {
    throw new ScenarioError('scenario', 'expected a workspace (an @allot/admin workspace document, inline or a path) or a state (a compiled resolver state, inline or a path)');
  }
  return {
    claims: claimsSpec(doc.claims, steps),
    name: typeof doc.name === 'string' ? doc.name : fallbackName,
    description: typeof doc.description === 'string' ? doc.description : '',
    clientSecret: typeof doc.clientSecret === 'string' ? doc.clientSecret : null,
    population: populationSpec(doc.population, 'population'),
    steps,
    checks: checkOptions(doc.checks, 'checks'),
  };
}

/** Reads and parses a scenario file. */
export function readScenario(file: string): Scenario {
  const doc = readReferenced(file, process.cwd(), 'scenario');
  const name = file.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
  return scenarioFrom(doc, { baseDir: dirname(resolve(file)) }, name);
}

export type { AttributeSpec };
