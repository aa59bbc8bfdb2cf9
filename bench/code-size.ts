// Largest files and functions (lines) per production folder: lib/, lambdas/, local/, cli/, bin/.
//   npx tsx bench/code-size.ts [root]   prints JSON (the figures of the architecture issue)
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

const root = process.argv[2] ?? process.cwd();
const folders = ['lib', 'lambdas', 'local', 'cli', 'bin'];
function files(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}
const out: Record<string, unknown> = {};
for (const folder of folders) {
  let bigFile = { file: '', lines: 0 };
  let bigFn = { file: '', name: '', lines: 0 };
  for (const f of files(path.join(root, folder))) {
    const text = fs.readFileSync(f, 'utf8');
    const lines = text.split('\n').length;
    if (lines > bigFile.lines) bigFile = { file: path.relative(root, f), lines };
    const sf = ts.createSourceFile(f, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart()).line;
        const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
        const n = end - start + 1;
        const name =
          (node as ts.FunctionDeclaration).name?.getText() ??
          (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText() : ts.SyntaxKind[node.kind]);
        if (n > bigFn.lines) bigFn = { file: path.relative(root, f), name, lines: n };
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  out[folder] = { largestFile: bigFile, largestFunction: bigFn };
}
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
