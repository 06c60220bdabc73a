/**
 * The shape of the tree, checked from its import statements (static `import` and `export … from`,
 * type-only ones included: a circle of types is still a circle a reader has to untangle):
 * - no circle between modules of main.ts, worker.ts, lib/ and routes/;
 * - routes/, main.ts and worker.ts reach a package under lib/ only through its mod.ts;
 * - every package under lib/ has a mod.ts that only re-exports, and no module of a package imports
 *   its own mod.ts.
 * Dynamic `import()` is not read: the server has none.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const IMPORT = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?["']([^"']+)["']/gm;

/** Every .ts file below `dir` (relative to the root). */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...tsFiles(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** The local modules `file` imports (relative to the root). */
export function localImports(file: string, text: string): string[] {
  const out: string[] = [];
  for (const [, specifier] of text.matchAll(IMPORT)) {
    if (!specifier.startsWith(".")) continue;
    out.push(relative(ROOT, resolve(ROOT, dirname(file), specifier)));
  }
  return out;
}

/** The import graph of the server's own modules. */
function importGraph(): Map<string, string[]> {
  const files = ["main.ts", "worker.ts", ...tsFiles("lib"), ...tsFiles("routes")];
  const graph = new Map<string, string[]>();
  for (const file of files) {
    graph.set(file, localImports(file, Deno.readTextFileSync(join(ROOT, file))));
  }
  return graph;
}

/** The circles of `graph`: its strongly connected components of more than one module (Tarjan). */
export function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || graph.get(node)?.includes(node)) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** `lib/<pkg>/…` → `<pkg>`, or undefined for a module outside any package. */
function packageOf(path: string): string | undefined {
  const parts = path.split("/");
  return parts[0] === "lib" && parts.length > 2 ? parts[1] : undefined;
}

const packages = [...Deno.readDirSync(join(ROOT, "lib"))].filter((e) => e.isDirectory)
  .map((e) => e.name).sort();

Deno.test("import graph: no circle between modules of lib/, routes/ and main.ts", () => {
  assert.deepEqual(circles(importGraph()), []);
});

Deno.test("import graph: routes/ and main.ts reach lib packages only through their mod.ts", () => {
  const deep: string[] = [];
  for (const [file, imports] of importGraph()) {
    if (file.startsWith("lib/")) continue;
    for (const to of imports) {
      if (packageOf(to) !== undefined && !to.endsWith("/mod.ts")) deep.push(`${file} → ${to}`);
    }
  }
  assert.deepEqual(deep, []);
});

Deno.test("import graph: every lib package has a mod.ts that only re-exports", () => {
  for (const pkg of packages) {
    const text = Deno.readTextFileSync(join(ROOT, "lib", pkg, "mod.ts"));
    const code = text.replace(/\/\*\*[\s\S]*?\*\//g, "").trim().split("\n").filter((l) => l);
    const other = code.filter((line) =>
      !/^export (\*|type \{[^}]*\}|\{[^}]*\}) from "\.\/[a-z0-9_]+\.ts";$/.test(line)
    );
    assert.deepEqual(other, [], `lib/${pkg}/mod.ts`);
    assert.match(text, /@module/, `lib/${pkg}/mod.ts has a @module doc`);
    assert.match(text, /@example/, `lib/${pkg}/mod.ts has an @example`);
  }
});

Deno.test("import graph: no module imports its own package's mod.ts", () => {
  const inward: string[] = [];
  for (const [file, imports] of importGraph()) {
    const pkg = packageOf(file);
    if (pkg === undefined) continue;
    for (const to of imports) {
      if (to === `lib/${pkg}/mod.ts` && file !== to) inward.push(`${file} → ${to}`);
    }
  }
  assert.deepEqual(inward, []);
});
