/**
 * src/protocol holds types, interfaces, the error catalogue and constant vocabularies — no runtime
 * code (the rule is written in src/protocol/index.ts's header). This test parses every file there
 * and fails on anything else: a value import, a `let`, a computed constant, a non-error class, a
 * function outside the short allow-list, a top-level statement that runs something.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const PROTOCOL = path.resolve(__dirname, '..', '..', '..', 'src', 'protocol');

/** Pure helpers over the vocabulary that the protocol may define (file → function names). */
const ALLOWED_FUNCTIONS: Record<string, readonly string[]> = {
  'status.ts': ['statusRank', 'worstStatus', 'isAtLeast', 'isStatus'],
  'errors.ts': ['isSupervisorError', 'describeError'],
};

function isLiteral(node: ts.Expression): boolean {
  if (ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isParenthesizedExpression(node)) return isLiteral(node.expression);
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isNumericLiteral(node)) return true;
  if (node.kind === ts.SyntaxKind.TrueKeyword || node.kind === ts.SyntaxKind.FalseKeyword || node.kind === ts.SyntaxKind.NullKeyword) return true;
  if (ts.isPrefixUnaryExpression(node) && node.operator === ts.SyntaxKind.MinusToken) return isLiteral(node.operand);
  if (ts.isArrayLiteralExpression(node)) return node.elements.every(isLiteral);
  if (ts.isObjectLiteralExpression(node)) {
    return node.properties.every((p) => ts.isPropertyAssignment(p) && !ts.isComputedPropertyName(p.name) && isLiteral(p.initializer));
  }
  return false;
}

function extendsError(node: ts.ClassDeclaration): boolean {
  const heritage = node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword);
  const base = heritage?.types[0]?.expression;
  return base !== undefined && ts.isIdentifier(base) && /Error$/.test(base.text);
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // a side-effect import runs code
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

/** Every finding in one protocol file, as `file:line what`. */
export function runtimeFindings(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const name = path.basename(file);
  const findings: string[] = [];
  const report = (node: ts.Node, what: string): void => {
    findings.push(`${name}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1} ${what}`);
  };
  for (const stmt of source.statements) {
    if (ts.isInterfaceDeclaration(stmt) || ts.isTypeAliasDeclaration(stmt)) continue;
    if (ts.isImportDeclaration(stmt)) {
      if (!isTypeOnlyImport(stmt)) report(stmt, 'imports a value (use `import type`)');
      continue;
    }
    if (ts.isExportDeclaration(stmt)) {
      const spec = stmt.moduleSpecifier;
      const reExportsProtocol = spec !== undefined && ts.isStringLiteral(spec) && /^\.\/[\w-]+$/.test(spec.text);
      if (!stmt.isTypeOnly && !(name === 'index.ts' && reExportsProtocol && stmt.exportClause === undefined)) report(stmt, 'exports a value from elsewhere');
      continue;
    }
    if (ts.isVariableStatement(stmt)) {
      if (!(stmt.declarationList.flags & ts.NodeFlags.Const)) report(stmt, 'declares a mutable variable');
      for (const decl of stmt.declarationList.declarations) {
        if (!decl.initializer || !isLiteral(decl.initializer)) report(decl, `const ${decl.name.getText(source)} is not a literal vocabulary`);
      }
      continue;
    }
    if (ts.isClassDeclaration(stmt)) {
      if (!extendsError(stmt)) report(stmt, `class ${stmt.name?.text ?? '(anonymous)'} is not an error type`);
      continue;
    }
    if (ts.isFunctionDeclaration(stmt)) {
      const fn = stmt.name?.text ?? '(anonymous)';
      if (!(ALLOWED_FUNCTIONS[name] ?? []).includes(fn)) report(stmt, `function ${fn} is runtime code (move it to src/shared/)`);
      continue;
    }
    report(stmt, `${ts.SyntaxKind[stmt.kind]} is runtime code`);
  }
  return findings;
}

describe('src/protocol holds no runtime code', () => {
  const files = fs.readdirSync(PROTOCOL).filter((f) => f.endsWith('.ts'));

  it('finds the protocol files', () => {
    expect(files).toEqual(expect.arrayContaining(['index.ts', 'status.ts', 'errors.ts', 'clock.ts', 'logger.ts', 'lifecycle.ts']));
  });

  it.each(files)('%s has only types, interfaces, literal vocabularies, error types and the allowed helpers', (file) => {
    expect(runtimeFindings(file, fs.readFileSync(path.join(PROTOCOL, file), 'utf8'))).toEqual([]);
  });

  it('flags runtime code (the checker itself works)', () => {
    const bad = [
      "import { Agent } from 'undici';",
      "export * from '../shared/clock';",
      'let n = 0;',
      'export const systemClock = { now: () => Date.now() };',
      'export class KafkaWireReader {}',
      'export function createHttpAgent(): void {}',
      "console.log('x');",
      'export enum Kind { A }',
    ].join('\n');
    expect(runtimeFindings('x.ts', bad)).toEqual([
      'x.ts:1 imports a value (use `import type`)',
      'x.ts:2 exports a value from elsewhere',
      'x.ts:3 declares a mutable variable',
      'x.ts:4 const systemClock is not a literal vocabulary',
      'x.ts:5 class KafkaWireReader is not an error type',
      'x.ts:6 function createHttpAgent is runtime code (move it to src/shared/)',
      'x.ts:7 ExpressionStatement is runtime code',
      'x.ts:8 EnumDeclaration is runtime code',
    ]);
    const good = [
      "import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';",
      "export type Kind = 'a' | 'b';",
      'export interface Clock { now(): number }',
      "export const KINDS: readonly Kind[] = ['a', 'b'] as const;",
      'export class SinkError extends Error {}',
    ].join('\n');
    expect(runtimeFindings('x.ts', good)).toEqual([]);
  });
});
