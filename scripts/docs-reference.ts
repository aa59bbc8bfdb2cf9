/**
 * Writes docs/reference.md from the single sources in code, so the reference cannot drift:
 * the tags, the bus contract (sources, detail-types and, where declared, each outcome's detail
 * shape), the event-source catalog, the environment of the functions and the construct props with
 * their JSDoc and `@default` lines.
 *
 *   npm run docs            (tsx scripts/docs-reference.ts)
 *
 * It writes the outcome events' JSON Schemas too (schemas/outcomes/, scripts/outcome-schemas.ts).
 *
 * test/unit/docs-reference.test.ts regenerates it in memory and fails when the file differs.
 *
 * Where things are found: `SOURCES` below is the only place that names them. Declarations are
 * looked up by name in every `.ts` file under `SOURCES.searchDirs`, so a props interface or a
 * catalog that moves to another file is still found; a name that is found nowhere fails the run.
 * The TypeScript sources are parsed with the compiler API (JSDoc, types, defaults); the values of
 * the pure catalogs (lambdas/domain) are imported, so computed values come out as the code has them.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { writeOutcomeSchemas } from './outcome-schemas';

// ---- What the reference is made of (the one place to change when code moves) -------------------

export const SOURCES = {
  /** Every `.ts` file under these directories (relative to the repository root) is searched. */
  searchDirs: ['lambdas/domain', 'lib'],
  /** Tag catalogs: `export const <name> = { key: 'phoenix:…', … }`, each key with its JSDoc. */
  tagCatalogs: [
    { name: 'Tags', title: 'Identity, replacement, drain and chaos tags' },
    { name: 'SettingTags', title: 'Rollout settings (fleet settings)' },
  ],
  /** Single named constants worth a line in the reference. */
  constants: [
    'CHANNEL_PARAMETER_PREFIX',
    'NAME_PATTERN',
    'DRAIN_HOOK_NAME',
    'COMMAND_SOURCE',
    'OUTCOME_SOURCE',
  ],
  /** The detail-types of the Phoenix bus. */
  detailTypes: 'DetailTypes',
  /** `source` of commands (in) and of outcomes (out). */
  commandSource: 'COMMAND_SOURCE',
  outcomeSource: 'OUTCOME_SOURCE',
  /**
   * The declared detail shape of each outcome: an interface or type whose members are detail-types
   * (`RolloutStarted: RolloutStartedDetail`, or `[DetailTypes.RolloutStarted]: …`). The first name
   * found wins; when none exists the outcomes are listed with their JSDoc only.
   */
  outcomeShapeMaps: ['OutcomeDetails', 'OutcomeDetailMap', 'OutcomeShapes'],
  /**
   * The runtime description of each outcome (one line per outcome and per field), which the
   * compiler checks against the interfaces of the shape map: the meaning column comes from it.
   */
  outcomeDescriptions: { module: 'lambdas/domain/outcome-shapes.ts', name: 'OUTCOME_SHAPES' },
  /** The event-source catalog (one EventBridge rule per entry). */
  eventSources: 'EVENT_SOURCES',
  /** Environment variables of the functions. */
  env: 'Env',
  /** The Lambda handlers. */
  handlers: 'Handlers',
  /** Construct props, in the order they are documented. */
  props: [
    'PhoenixStackProps',
    'PhoenixControlPlaneProps',
    'RolloutWorkflowProps',
    'ReplaceWorkflowProps',
    'DrainWorkflowProps',
    'WorkflowCommonProps',
    'PhoenixFunctionProps',
  ],
  /** Where the generated page goes. */
  output: 'docs/reference.md',
} as const;

// ---- Parsing ------------------------------------------------------------------------------------

type Declaration = ts.InterfaceDeclaration | ts.TypeAliasDeclaration | ts.VariableDeclaration;

interface Found<T extends Declaration = Declaration> {
  readonly node: T;
  readonly file: string; // relative to the root, forward slashes
  readonly source: ts.SourceFile;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : tsFiles(full);
      return entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
    })
    .sort();
}

class Index {
  private readonly declarations = new Map<string, Found[]>();

  constructor(readonly root: string) {
    for (const dir of SOURCES.searchDirs) {
      for (const file of tsFiles(path.join(root, dir))) {
        const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
        const rel = path.relative(root, file).split(path.sep).join('/');
        for (const statement of source.statements) {
          const add = (name: string, node: Declaration) => {
            const list = this.declarations.get(name) ?? [];
            list.push({ node, file: rel, source });
            this.declarations.set(name, list);
          };
          if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) {
            add(statement.name.text, statement);
          } else if (ts.isVariableStatement(statement)) {
            for (const d of statement.declarationList.declarations) {
              if (ts.isIdentifier(d.name)) add(d.name.text, d);
            }
          }
        }
      }
    }
  }

  /** The exported declaration of this name; it must exist exactly once among the exported ones. */
  find(name: string): Found {
    const found = this.findOptional(name);
    if (found === undefined) {
      throw new Error(
        `docs-reference: no declaration of ${name} under ${SOURCES.searchDirs.join(', ')} (update SOURCES in scripts/docs-reference.ts)`,
      );
    }
    return found;
  }

  findOptional(name: string): Found | undefined {
    const all = this.declarations.get(name) ?? [];
    const exported = all.filter((f) => isExported(f.node));
    const candidates = exported.length > 0 ? exported : all;
    if (candidates.length > 1) {
      throw new Error(
        `docs-reference: ${name} is declared in ${candidates.map((c) => c.file).join(' and ')}: name one in SOURCES`,
      );
    }
    return candidates[0];
  }

  /** A type declaration (interface or alias) of this name, if any (for shapes). */
  findType(name: string): Found<ts.InterfaceDeclaration | ts.TypeAliasDeclaration> | undefined {
    const found = (this.declarations.get(name) ?? []).filter(
      (f): f is Found<ts.InterfaceDeclaration | ts.TypeAliasDeclaration> =>
        ts.isInterfaceDeclaration(f.node) || ts.isTypeAliasDeclaration(f.node),
    );
    return found[0];
  }

  /** The runtime value of an exported constant (its module is imported: pure modules only). */
  async value(name: string): Promise<unknown> {
    const found = this.find(name);
    const module = (await import(path.join(this.root, found.file))) as Record<string, unknown>;
    if (!(name in module)) throw new Error(`docs-reference: ${found.file} does not export ${name}`);
    return module[name];
  }
}

function isExported(node: Declaration): boolean {
  const statement = ts.isVariableDeclaration(node) ? node.parent.parent : node;
  return (
    ts.canHaveModifiers(statement) &&
    (ts.getModifiers(statement) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
  );
}

/** JSDoc of a node: its text and its tags (`@default` …). */
function jsDoc(node: ts.Node): { text: string; tags: Map<string, string> } {
  const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
  const text = docs
    .map((d) => ts.getTextOfJSDocComment(d.comment) ?? '')
    .join(' ')
    .trim();
  const tags = new Map<string, string>();
  for (const tag of ts.getJSDocTags(node)) {
    tags.set(tag.tagName.text, (ts.getTextOfJSDocComment(tag.comment) ?? '').trim());
  }
  return { text: oneLine(text), tags };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The object literal a `const X = { … } as const` is initialized with. */
function objectLiteral(found: Found): ts.ObjectLiteralExpression {
  let init = ts.isVariableDeclaration(found.node) ? found.node.initializer : undefined;
  while (init !== undefined && (ts.isAsExpression(init) || ts.isSatisfiesExpression(init))) {
    init = init.expression;
  }
  if (init === undefined || !ts.isObjectLiteralExpression(init)) {
    throw new Error(`docs-reference: ${found.file}: expected an object literal`);
  }
  return init;
}

function propertyName(name: ts.PropertyName, source: ts.SourceFile): string {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text;
  if (ts.isComputedPropertyName(name)) {
    // `[DetailTypes.RolloutStarted]` names the detail-type RolloutStarted.
    const e = name.expression;
    if (ts.isPropertyAccessExpression(e)) return e.name.text;
    if (ts.isStringLiteral(e)) return e.text;
  }
  return name.getText(source);
}

/** Key → JSDoc text of each property of an object literal constant. */
function catalogDocs(found: Found): Map<string, string> {
  const docs = new Map<string, string>();
  for (const p of objectLiteral(found).properties) {
    if (p.name !== undefined) docs.set(propertyName(p.name, found.source), jsDoc(p).text);
  }
  return docs;
}

// ---- Shapes (outcome details, props) -----------------------------------------------------------

interface Field {
  readonly name: string;
  readonly type: string;
  readonly optional: boolean;
  readonly doc: string;
  readonly default?: string;
}

/** The fields of a type: interface members (with what it extends), literals, intersections, aliases. */
function fieldsOf(
  index: Index,
  type: ts.TypeNode,
  source: ts.SourceFile,
  seen = new Set<string>(),
): Field[] | undefined {
  if (ts.isTypeLiteralNode(type)) return members(type.members, source);
  if (ts.isParenthesizedTypeNode(type)) return fieldsOf(index, type.type, source, seen);
  if (ts.isIntersectionTypeNode(type)) {
    const parts = type.types.map((t) => fieldsOf(index, t, source, seen));
    if (parts.some((p) => p === undefined)) return undefined;
    return merge(parts.flatMap((p) => p ?? []));
  }
  if (ts.isTypeReferenceNode(type)) {
    const name = type.typeName.getText(source);
    const args = type.typeArguments ?? [];
    const [first, second] = args;
    if ((name === 'Omit' || name === 'Pick') && first !== undefined && second !== undefined) {
      const inner = fieldsOf(index, first, source, seen);
      const keys = literalKeys(second);
      if (inner === undefined || keys === undefined) return undefined;
      return inner.filter((f) => (name === 'Omit' ? !keys.includes(f.name) : keys.includes(f.name)));
    }
    if ((name === 'Partial' || name === 'Readonly') && first !== undefined) {
      const inner = fieldsOf(index, first, source, seen);
      return name === 'Partial' ? inner?.map((f) => ({ ...f, optional: true })) : inner;
    }
    if (seen.has(name)) return undefined;
    const found = index.findType(name);
    if (found === undefined) return undefined;
    return declarationFields(index, found, new Set([...seen, name]));
  }
  return undefined;
}

function declarationFields(
  index: Index,
  found: Found<ts.InterfaceDeclaration | ts.TypeAliasDeclaration>,
  seen: Set<string>,
): Field[] | undefined {
  const { node, source } = found;
  if (ts.isTypeAliasDeclaration(node)) return fieldsOf(index, node.type, source, seen);
  const inherited: Field[] = [];
  for (const clause of node.heritageClauses ?? []) {
    for (const t of clause.types) {
      // `extends Omit<WorkflowCommonProps, 'pollInterval'>`: read the clause as a type.
      const heritage = heritageAsTypeNode(t, source);
      const fields = fieldsOf(index, heritage.type, heritage.source, seen);
      if (fields !== undefined) inherited.push(...fields);
    }
  }
  return merge([...inherited, ...members(node.members, source)]);
}

/** `Omit<WorkflowCommonProps, 'pollInterval'>` in an `extends` clause, as a parsed type node. */
function heritageAsTypeNode(
  t: ts.ExpressionWithTypeArguments,
  source: ts.SourceFile,
): { type: ts.TypeNode; source: ts.SourceFile } {
  const parsed = ts.createSourceFile(
    'heritage.ts',
    `type X = ${t.getText(source)};`,
    ts.ScriptTarget.Latest,
    true,
  );
  const alias = parsed.statements[0];
  if (alias === undefined || !ts.isTypeAliasDeclaration(alias)) throw new Error('unreachable');
  return { type: alias.type, source: parsed };
}

function literalKeys(type: ts.TypeNode): string[] | undefined {
  const parts = ts.isUnionTypeNode(type) ? type.types : [type];
  const keys: string[] = [];
  for (const p of parts) {
    if (!ts.isLiteralTypeNode(p) || !ts.isStringLiteral(p.literal)) return undefined;
    keys.push(p.literal.text);
  }
  return keys;
}

/** Later fields of the same name win (an interface's own member over an inherited one). */
function merge(fields: Field[]): Field[] {
  const byName = new Map<string, Field>();
  for (const f of fields) {
    byName.delete(f.name);
    byName.set(f.name, f);
  }
  return [...byName.values()];
}

function members(list: ts.NodeArray<ts.TypeElement>, source: ts.SourceFile): Field[] {
  return list.flatMap((m) => {
    if (!ts.isPropertySignature(m) || m.name === undefined) return [];
    const doc = jsDoc(m);
    const def = doc.tags.get('default');
    return [
      {
        name: propertyName(m.name, source),
        type: m.type !== undefined ? oneLine(m.type.getText(source)) : 'unknown',
        optional: m.questionToken !== undefined,
        doc: doc.text,
        ...(def !== undefined ? { default: def } : {}),
      },
    ];
  });
}

// ---- Markdown -----------------------------------------------------------------------------------

/** A table cell: one line, pipes escaped. */
function cell(text: string): string {
  return oneLine(text).replace(/\|/g, '\\|');
}

function code(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

/** A GitHub heading anchor. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function sourceLink(file: string): string {
  return `[\`${file}\`](../${file})`;
}

/** A `@default` line: `- text` is prose; `expression - text` is code, then prose (the CDK convention). */
function defaultCell(text: string): string {
  if (text.startsWith('- ')) return text.slice(2);
  const dash = text.indexOf(' - ');
  return dash < 0 ? code(text) : `${code(text.slice(0, dash))}: ${text.slice(dash + 3)}`;
}

function printValue(value: unknown): string {
  if (value instanceof RegExp) return value.source;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

// ---- The page -----------------------------------------------------------------------------------

async function stringRecord(index: Index, name: string): Promise<Record<string, string>> {
  const value = await index.value(name);
  if (typeof value !== 'object' || value === null)
    throw new Error(`docs-reference: ${name} is not an object`);
  return value as Record<string, string>;
}

interface EventSourceEntry {
  readonly ruleId: string;
  readonly bus: string;
  readonly description: string;
  readonly pattern: Record<string, unknown>;
}

/** The reference page, as markdown (not yet formatted). */
async function render(index: Index): Promise<string> {
  const out: string[] = [];
  const files = new Set<string>();
  const use = (name: string) => {
    const found = index.find(name);
    files.add(found.file);
    return found;
  };

  out.push('# Reference');
  out.push('');
  out.push(
    '_Generated by `npm run docs` (`scripts/docs-reference.ts`) from the code; do not edit by hand. A unit test fails when this page and the code disagree._',
  );
  out.push('');

  // -- Tags
  out.push('## Tags');
  out.push('');
  for (const catalog of SOURCES.tagCatalogs) {
    const found = use(catalog.name);
    const values = await stringRecord(index, catalog.name);
    const docs = catalogDocs(found);
    out.push(`### ${catalog.title}`);
    out.push('');
    out.push(`From \`${catalog.name}\` in ${sourceLink(found.file)}.`);
    out.push('');
    out.push(
      table(
        ['tag', 'in code', 'meaning'],
        Object.entries(values).map(([key, tag]) => [
          code(tag),
          code(`${catalog.name}.${key}`),
          docs.get(key) ?? '',
        ]),
      ),
    );
    out.push('');
  }
  out.push('### Other names');
  out.push('');
  const constantRows: string[][] = [];
  for (const name of SOURCES.constants) {
    const found = use(name);
    constantRows.push([
      code(name),
      code(printValue(await index.value(name))),
      jsDoc(found.node.parent.parent).text,
    ]);
  }
  out.push(table(['name', 'value', 'meaning'], constantRows));
  out.push('');

  // -- The bus
  const detailTypesFound = use(SOURCES.detailTypes);
  const detailTypes = await stringRecord(index, SOURCES.detailTypes);
  const detailDocs = catalogDocs(detailTypesFound);
  const commandSource = printValue(await index.value(SOURCES.commandSource));
  const outcomeSource = printValue(await index.value(SOURCES.outcomeSource));
  const eventSources = (await index.value(SOURCES.eventSources)) as readonly EventSourceEntry[];
  files.add(index.find(SOURCES.eventSources).file);
  const commands = new Set(
    eventSources
      .filter((s) => JSON.stringify(s.pattern['source']) === JSON.stringify([commandSource]))
      .flatMap((s) => (s.pattern['detail-type'] as string[] | undefined) ?? []),
  );

  let shapeMap: Found<ts.InterfaceDeclaration | ts.TypeAliasDeclaration> | undefined;
  for (const name of SOURCES.outcomeShapeMaps) {
    shapeMap = index.findType(name);
    if (shapeMap !== undefined) break;
  }
  const shapes = new Map<string, { fields: Field[] | undefined; type: string; doc: string }>();
  if (shapeMap !== undefined) {
    files.add(shapeMap.file);
    const literal = ts.isInterfaceDeclaration(shapeMap.node)
      ? shapeMap.node.members
      : ts.isTypeLiteralNode(shapeMap.node.type)
        ? shapeMap.node.type.members
        : undefined;
    if (literal === undefined) {
      throw new Error(`docs-reference: ${shapeMap.node.name.text} must be an interface or a type literal`);
    }
    for (const m of literal) {
      if (!ts.isPropertySignature(m) || m.name === undefined || m.type === undefined) continue;
      const key = propertyName(m.name, shapeMap.source);
      const typeName = ts.isTypeReferenceNode(m.type) ? m.type.typeName.getText(shapeMap.source) : undefined;
      const declared = typeName !== undefined ? index.findType(typeName) : undefined;
      if (declared !== undefined) files.add(declared.file);
      shapes.set(key, {
        fields: fieldsOf(index, m.type, shapeMap.source),
        type: oneLine(m.type.getText(shapeMap.source)),
        doc: [jsDoc(m).text, declared !== undefined ? jsDoc(declared.node).text : '']
          .filter(Boolean)
          .join(' '),
      });
    }
  }

  out.push('## Events on the Phoenix bus');
  out.push('');
  out.push(
    `Commands come in with the source ${code(commandSource)}, outcomes go out with the source ${code(outcomeSource)}. Detail-types are \`${SOURCES.detailTypes}\` in ${sourceLink(detailTypesFound.file)}${
      shapeMap !== undefined
        ? `; each outcome's detail shape is declared in \`${shapeMap.node.name.text}\` (${sourceLink(shapeMap.file)}).`
        : '.'
    }`,
  );
  out.push('');
  out.push('### Commands (in)');
  out.push('');
  out.push(
    table(
      ['detail-type', 'meaning'],
      Object.entries(detailTypes)
        .filter(([, type]) => commands.has(type))
        .map(([key, type]) => [code(type), detailDocs.get(key) || shapes.get(key)?.doc || '']),
    ),
  );
  out.push('');
  out.push('### Outcomes (out)');
  out.push('');
  const outcomeEntries = Object.entries(detailTypes).filter(([, type]) => !commands.has(type));
  out.push(
    table(
      ['detail-type', 'meaning'],
      outcomeEntries.map(([key, type]) => [
        shapes.has(key) ? `[${code(type)}](#${anchor(type)})` : code(type),
        detailDocs.get(key) || shapes.get(key)?.doc || '',
      ]),
    ),
  );
  out.push('');
  if (shapeMap !== undefined) {
    const descriptions = await outcomeDescriptions(index.root);
    out.push('### Outcome details');
    out.push('');
    for (const [key, type] of Object.entries(detailTypes)) {
      const shape = shapes.get(key);
      if (shape === undefined) continue;
      out.push(`#### ${type}`);
      out.push('');
      const described = descriptions[type];
      const jsdoc = detailDocs.get(key) || shape.doc;
      const doc = [...new Set([described?.description, jsdoc].filter((d): d is string => Boolean(d)))].join(
        '\n\n',
      );
      if (doc) {
        out.push(doc);
        out.push('');
      }
      if (shape.fields === undefined) {
        out.push(`Detail: ${code(shape.type)}.`);
      } else {
        out.push(
          table(
            ['field', 'type', 'meaning'],
            shape.fields.map((f) => [
              code(f.optional ? `${f.name}?` : f.name),
              code(f.type),
              f.doc || (described?.fields[f.name]?.description ?? ''),
            ]),
          ),
        );
      }
      out.push('');
    }
  }

  // -- Event sources
  out.push('## Events Phoenix listens to');
  out.push('');
  out.push(
    `One EventBridge rule per entry of \`${SOURCES.eventSources}\` (${sourceLink(index.find(SOURCES.eventSources).file)}), each targeting the intake function with a dead-letter queue and an alarm. The patterns are exactly those the rules are synthesized with.`,
  );
  out.push('');
  out.push(
    table(
      ['rule', 'bus', 'what'],
      eventSources.map((s) => [code(s.ruleId), s.bus, s.description]),
    ),
  );
  out.push('');
  out.push('Their patterns:');
  out.push('');
  for (const s of eventSources) out.push(`- ${code(s.ruleId)}: ${code(JSON.stringify(s.pattern))}`);
  out.push('');

  // -- Environment, handlers
  const envFound = use(SOURCES.env);
  const env = await stringRecord(index, SOURCES.env);
  const envDocs = catalogDocs(envFound);
  out.push('## Environment of the functions');
  out.push('');
  out.push(
    `Set by the CDK app on the functions (and in-process by the local runtime); \`${SOURCES.env}\` in ${sourceLink(envFound.file)}.`,
  );
  out.push('');
  out.push(
    table(
      ['variable', 'in code', 'meaning'],
      Object.entries(env).map(([key, name]) => [
        code(name),
        code(`${SOURCES.env}.${key}`),
        envDocs.get(key) ?? '',
      ]),
    ),
  );
  out.push('');
  const handlersFound = use(SOURCES.handlers);
  const handlers = await stringRecord(index, SOURCES.handlers);
  out.push('## Functions');
  out.push('');
  out.push(`${jsDoc(handlersFound.node.parent.parent).text} (${sourceLink(handlersFound.file)})`);
  out.push('');
  out.push(
    table(
      ['handler', 'entry'],
      Object.values(handlers).map((name) => [code(name), `[\`lambdas/${name}.ts\`](../lambdas/${name}.ts)`]),
    ),
  );
  out.push('');

  // -- Props
  out.push('## Construct props');
  out.push('');
  for (const name of SOURCES.props) {
    const found = use(name);
    if (!ts.isInterfaceDeclaration(found.node) && !ts.isTypeAliasDeclaration(found.node)) {
      throw new Error(`docs-reference: ${name} in ${found.file} is not an interface or a type`);
    }
    const node = found.node;
    out.push(`### ${name}`);
    out.push('');
    const doc = jsDoc(node).text;
    out.push(`${doc ? `${doc} ` : ''}Declared in ${sourceLink(found.file)}.`);
    out.push('');
    const heritage = ts.isInterfaceDeclaration(node)
      ? (node.heritageClauses ?? []).flatMap((c) => c.types.map((t) => t.getText(found.source)))
      : [];
    const inherited = heritage.filter((h) => !SOURCES.props.some((p) => h === p || h.includes(`<${p},`)));
    const documented = heritage.filter((h) => !inherited.includes(h));
    for (const h of documented) {
      const base = SOURCES.props.find((p) => h === p || h.includes(`<${p},`)) ?? h;
      out.push(
        `Also takes the props of [\`${base}\`](#${anchor(base)})${h === base ? '' : ` (as ${code(h)})`}.`,
      );
      out.push('');
    }
    for (const h of inherited) {
      out.push(`Also takes every prop of ${code(h)}.`);
      out.push('');
    }
    const own = ts.isInterfaceDeclaration(node)
      ? members(node.members, found.source)
      : (fieldsOf(index, node.type, found.source) ?? []);
    out.push(
      table(
        ['prop', 'type', 'default', 'meaning'],
        own.map((f) => [
          code(f.name),
          code(f.type),
          f.default !== undefined ? defaultCell(f.default) : f.optional ? '' : 'required',
          f.doc,
        ]),
      ),
    );
    out.push('');
  }

  out.push('---');
  out.push('');
  out.push(`Sources read: ${[...files].sort().map(sourceLink).join(', ')}.`);
  out.push('');
  return out.join('\n');
}

/** The reference page as it must be committed (markdown formatted like the repository's). */
/** Each outcome's one-line descriptions (`SOURCES.outcomeDescriptions`), or none if that module is absent. */
type OutcomeDescriptions = Readonly<
  Record<string, { description: string; fields: Readonly<Record<string, { description: string }>> }>
>;
async function outcomeDescriptions(root: string): Promise<OutcomeDescriptions> {
  const file = path.join(root, SOURCES.outcomeDescriptions.module);
  if (!existsSync(file)) return {};
  const loaded = (await import(file)) as Record<string, unknown>;
  return (loaded[SOURCES.outcomeDescriptions.name] ?? {}) as OutcomeDescriptions;
}

export async function generateReference(root = path.join(__dirname, '..')): Promise<string> {
  const markdown = await render(new Index(root));
  const prettier = await import('prettier');
  const config = (await prettier.resolveConfig(path.join(root, SOURCES.output))) ?? {};
  return prettier.format(markdown, { ...config, parser: 'markdown' });
}

export const REFERENCE_PATH = SOURCES.output;

async function main() {
  const root = path.join(__dirname, '..');
  const page = await generateReference(root);
  writeFileSync(path.join(root, SOURCES.output), page);
  process.stdout.write(`wrote ${SOURCES.output} (${page.split('\n').length} lines)\n`);
  const schemas = await writeOutcomeSchemas(root);
  process.stdout.write(`wrote ${schemas} outcome schemas into schemas/outcomes/\n`);
}

if (typeof require !== 'undefined' && require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
