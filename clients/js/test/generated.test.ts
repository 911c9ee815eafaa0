// The committed client is what Codama generates from the committed IDLs: regenerated into a
// temporary directory, every file must match (run clients/js/scripts/generate.mjs after an IDL
// change and commit the result).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const COMMITTED = path.join(ROOT, 'clients', 'js', 'src', 'generated');

function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (current: string) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.set(path.relative(dir, full), fs.readFileSync(full, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

test('the committed client matches a fresh Codama generation from the IDLs', () => {
  const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'codama-'));
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'clients', 'js', 'scripts', 'generate.mjs'), '--out', fresh], { stdio: 'pipe' });
    const expected = files(fresh);
    const committed = files(COMMITTED);
    assert.deepEqual([...committed.keys()].sort(), [...expected.keys()].sort());
    for (const [name, text] of expected) {
      assert.equal(committed.get(name), text, `${name} is stale: run node clients/js/scripts/generate.mjs`);
    }
  } finally {
    fs.rmSync(fresh, { recursive: true, force: true });
  }
});
