/**
 * Entry point of `npm run simulate`: reads the command line (exit 2 with the
 * usage on a bad one), runs the simulation and exits 0 only when every step
 * passed, 1 otherwise.
 */
import { readFileSync } from "node:fs";
import { parseSimulatorArgs, USAGE } from "./args.js";
import { runSimulation } from "./run.js";

async function main(): Promise<number> {
  const parsed = parseSimulatorArgs(process.argv.slice(2), (path) => readFileSync(path, "utf8"));
  if (parsed.kind === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.kind === "bad") {
    process.stderr.write(`${parsed.message}\n\n${USAGE}`);
    return 2;
  }
  return runSimulation(parsed.options, process.stdout);
}

main().then(
  (code) => process.stdout.write("", () => process.exit(code)),
  (e: unknown) => {
    process.stderr.write(`simulator failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
