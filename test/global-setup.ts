/**
 * Builds dist/ once before the suite, so tests that run the real entry point
 * (`node dist/src/main.js`, as `npm start` does) test the current sources.
 */
import { execFileSync } from "node:child_process";

export default function setup(): void {
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
    stdio: "inherit",
  });
}
