import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { planScenario, readScenario } from '@allot/simulation';

import { parseQueueUrl, QueueConnectionError } from './connection.js';
import { planHash, scenarioOfPayload, scenarioPayload } from './format.js';

const ranking = fileURLToPath(new URL('../../../simulations/ranking.yaml', import.meta.url));

describe('the scenario payload', () => {
  it('carries the scenario itself, referenced files included, and proves it by its hash', () => {
    const scenario = readScenario(ranking);
    const payload = scenarioPayload(scenario);
    expect(scenarioOfPayload(payload, payload.sha256)).toEqual(scenario);
    expect(Buffer.from(payload.gzip, 'base64').length).toBeLessThan(JSON.stringify(scenario).length);
    const damaged = { ...payload, gzip: gzipSync('{"name":"other"}').toString('base64') };
    expect(() => scenarioOfPayload(damaged, payload.sha256)).toThrow(/the run's data is damaged/);
  });

  it('plans a sweep once: the plan at another seed differs only in its seed field (as submit assumes, and each worker checks)', () => {
    const scenario = readScenario(ranking);
    const at = (seed: number) => planScenario({ ...scenario, population: { ...scenario.population, units: 1000, seed } }, 1000, seed).plan;
    const first = at(1);
    for (const seed of [2, 99]) expect(planHash({ ...first, seed })).toBe(planHash(at(seed)));
  });
});

describe('parseQueueUrl', () => {
  it('takes redis:// and rediss:// URLs with an optional database number', () => {
    expect(parseQueueUrl('redis://127.0.0.1:6379').port).toBe('6379');
    expect(parseQueueUrl('rediss://user:pw@cache.internal:6380/2').pathname).toBe('/2');
  });

  it('says what is wrong with anything else', () => {
    expect(() => parseQueueUrl('127.0.0.1:6379')).toThrow(QueueConnectionError);
    expect(() => parseQueueUrl('localhost')).toThrow(/is not a URL: give the Redis server as redis:\/\/host:port/);
    expect(() => parseQueueUrl('http://127.0.0.1:6379')).toThrow(/not http:\/\//);
    expect(() => parseQueueUrl('redis://127.0.0.1:6379/queue')).toThrow(/the path must be a database number/);
    expect(() => parseQueueUrl('redis://me:s3cret@127.0.0.1:6379/queue')).toThrow('"redis://me:***@127.0.0.1:6379/queue": the path must be a database number (redis://host:port/2), got /queue');
  });
});
