// Writes the error table of src/core/error-catalogue.ts between the README's
// <!-- section:errors ... --> markers. Run by `npm run docs:errors`.
//
// Node 20 cannot import TypeScript, and a full `tsc` build fails while any file
// elsewhere has a type error, so this transpiles the table builder and the
// files it imports (no type check) into node_modules/.cache and imports it.
//
// Options: `--check` writes nothing and exits 1 when the README is stale (CI);
// `--readme FILE` works on another file (the test uses a copy).
// Idempotent: a second run finds nothing to change and leaves the file alone.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import ts from "typescript";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function fail(message) {
  process.stderr.write(`docs:errors: ${message}\n`);
  process.exit(1);
}

/**
 * Transpiles src/core/error-table.ts and the source files it imports (followed
 * through relative imports) into a fresh folder inside the project.
 */
function transpileCore() {
  const srcDir = join(root, "src");
  // Inside the project, so a bare import in the core resolves to node_modules.
  const outDir = join(root, "node_modules/.cache/docs-errors", String(process.pid));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "package.json"), '{"type":"module"}\n');
  const todo = ["core/error-table.ts"];
  const done = new Set();
  while (todo.length > 0) {
    const name = todo.pop();
    if (done.has(name)) continue;
    done.add(name);
    const source = readFileSync(join(srcDir, name), "utf8");
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: name,
    });
    const out = join(outDir, name.replace(/\.ts$/, ".js"));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
    for (const m of outputText.matchAll(/\bfrom\s+["'](\.{1,2}\/[^"']+)\.js["']/g)) {
      todo.push(join(dirname(name), `${m[1]}.ts`));
    }
  }
  return outDir;
}

let options;
try {
  ({ values: options } = parseArgs({
    options: { check: { type: "boolean" }, readme: { type: "string" } },
    allowPositionals: false,
  }));
} catch (e) {
  fail(`${e.message}\nusage: node scripts/docs-errors.mjs [--check] [--readme FILE]`);
}
const readmePath = resolve(options.readme ?? join(root, "README.md"));

const outDir = transpileCore();
try {
  const table = await import(pathToFileURL(join(outDir, "core/error-table.js")).href);
  const before = readFileSync(readmePath, "utf8");
  const after = table.replaceErrorsSection(before, table.renderErrorTable());
  const rows = table.catalogueRows().length;
  if (after === before) {
    process.stdout.write(`docs:errors: ${readmePath} error table is up to date (${rows} codes)\n`);
  } else if (options.check) {
    process.stderr.write(`docs:errors: ${readmePath} error table is stale; run \`npm run docs:errors\`\n`);
    process.exitCode = 1;
  } else {
    writeFileSync(readmePath, after);
    process.stdout.write(`docs:errors: wrote ${rows} codes to ${readmePath}\n`);
  }
} catch (e) {
  // exitCode, not exit(), so the finally below still removes the folder.
  process.stderr.write(`docs:errors: ${e.message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
