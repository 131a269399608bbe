import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSessionIndex, createUserAgentCache } from './index.js';

/** A tiny deterministic generator, so a failing round can be replayed from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

test('user-agent cache: a hit is the remembered result, least recently used evicted first (generated sequences against a model)', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rnd = rng(seed);
    const max = 1 + Math.floor(rnd() * 5);
    const cached = createUserAgentCache(max);
    const model: string[] = []; // most recently used last
    const seen = new Map<string, unknown>();
    for (let step = 0; step < 200; step++) {
      // a few agents that parse, and some that do not ("not a user agent" is cached too)
      const ua = rnd() < 0.2 ? ' '.repeat(1 + Math.floor(rnd() * 3)) : `tool${Math.floor(rnd() * (max * 2))}/1.${step % 3}`;
      const wasCached = model.includes(ua);
      const out = cached(ua);
      if (out !== null) {
        if (wasCached) assert.equal(out, seen.get(ua), `seed ${seed} step ${step}: a hit returns the cached object`);
        else if (seen.has(ua)) assert.notEqual(out, seen.get(ua), `seed ${seed} step ${step}: an evicted entry is parsed again`);
      }
      seen.set(ua, out);
      const i = model.indexOf(ua);
      if (i >= 0) model.splice(i, 1);
      model.push(ua);
      if (model.length > max) model.shift();
    }
  }
});

test('session index: bounded by write order, a read does not keep a family (generated sequences against a model)', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rnd = rng(seed);
    const max = 1 + Math.floor(rnd() * 6);
    const index = createSessionIndex(max);
    const model = new Map<string, string>();
    for (let step = 0; step < 300; step++) {
      const family = `fam${Math.floor(rnd() * max * 2)}`;
      if (rnd() < 0.5) {
        assert.equal(index.get(family), model.get(family), `seed ${seed} step ${step}: get ${family}`);
      } else {
        const sid = `s${Math.floor(rnd() * 3)}`;
        index.set(family, sid);
        if (model.get(family) !== sid) {
          model.delete(family);
          model.set(family, sid);
          if (model.size > max) model.delete(model.keys().next().value!);
        }
      }
    }
  }
});
