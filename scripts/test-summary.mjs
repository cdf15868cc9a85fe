// Prints "N passed, M failed" from one or more vitest JSON reports (added up);
// exits 1 when a report is missing or counted no test at all.
import { readFileSync } from "node:fs";

let passed = 0;
let failed = 0;
let broken = false;
for (const path of process.argv.slice(2)) {
  let report;
  try {
    report = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    console.log(`test report ${path} unreadable: ${error.message}`);
    failed += 1;
    broken = true;
    continue;
  }
  const reportPassed = report.numPassedTests ?? 0;
  const brokenFiles = (report.testResults ?? []).filter(
    (file) => file.status === "failed" && (file.assertionResults ?? []).length === 0,
  ).length;
  passed += reportPassed;
  failed += (report.numFailedTests ?? 0) + brokenFiles;
  if (reportPassed === 0) broken = true;
}
if (process.argv.length <= 2) {
  console.log("no test report given");
  broken = true;
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(broken || failed > 0 ? 1 : 0);
