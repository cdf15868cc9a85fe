// Prints "N passed, M failed" from a vitest JSON report; exits 1 when the report
// is missing or counted no test at all.
import { readFileSync } from "node:fs";

const path = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(path, "utf8"));
} catch (error) {
  console.log(`test report ${path} unreadable: ${error.message}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const brokenFiles = (report.testResults ?? []).filter(
  (file) => file.status === "failed" && (file.assertionResults ?? []).length === 0,
).length;
console.log(`${passed} passed, ${failed + brokenFiles} failed`);
process.exit(passed === 0 || failed + brokenFiles > 0 ? 1 : 0);
