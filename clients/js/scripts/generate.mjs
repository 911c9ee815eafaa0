#!/usr/bin/env node
// Generates the TypeScript clients of both programs from their Anchor IDLs (idl/*.json) with
// Codama (pinned in the root package.json). Output: clients/js/src/generated/<program>/.
//
//   node clients/js/scripts/generate.mjs [--out <dir>]
//
// The generated code is committed; clients/js/test/generated.test.ts regenerates it into a
// temporary directory and fails when the committed files differ (like the IDL drift test).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFromRoot } from 'codama';
import { rootNodeFromAnchor } from '@codama/nodes-from-anchor';
import { renderVisitor } from '@codama/renderers-js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..');
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? path.resolve(process.argv[outIndex + 1]) : path.join(root, 'clients', 'js', 'src', 'generated');

for (const name of ['collateral_vault', 'position_manager']) {
  const idl = JSON.parse(fs.readFileSync(path.join(root, 'idl', `${name}.json`), 'utf8'));
  const codama = createFromRoot(rootNodeFromAnchor(idl));
  const target = path.join(out, name);
  fs.rmSync(target, { recursive: true, force: true });
  await codama.accept(renderVisitor(target, { deleteFolderBeforeRendering: true, formatCode: true }));
  console.log(`generated ${path.relative(root, target)}`);
}
