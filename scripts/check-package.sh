#!/usr/bin/env bash
# The package as a user installs it: `npm pack` (which builds dist/ on prepack),
# installed into an empty directory with no source tree beside it, then the
# installed CLI: --version, a 10 s demo that must exit 0, and the status command
# it prints (which must be spelt `npx oneiric-healthd`). Checks that the
# tarball ships what runs (compiled JavaScript, migrations, protos, the status page, examples)
# and nothing that does not (no src/, test/, bench/, no tsx).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
listing=$(tar -tzf "$work/$tarball")
for unwanted in package/src/ package/test/ package/bench/ package/.ci/; do
  if grep -q "^$unwanted" <<<"$listing"; then
    echo "check-package: the tarball ships $unwanted" >&2
    exit 1
  fi
done
for wanted in package/dist/cli.js package/migrations/0001_initial.sql package/proto/oneiric/healthd/v1/healthd.proto package/web/index.html package/web/app.js; do
  grep -qx "$wanted" <<<"$listing" || { echo "check-package: the tarball lacks $wanted" >&2; exit 1; }
done

cd "$work"
# The allowScripts the README tells users to record; with it, npm 11.16+ must
# have no install script left to warn about.
echo '{"name":"package-check","private":true,"allowScripts":{"better-sqlite3":true,"unix-dgram":true,"protobufjs":false}}' >package.json
npm install --no-audit --no-fund "./$tarball" >install.log 2>&1 || { cat install.log >&2; exit 1; }
if grep -q "allow-scripts" install.log; then
  echo "check-package: npm still warns about install scripts:" >&2
  grep "allow-scripts" install.log >&2
  exit 1
fi
if [ -e node_modules/tsx ]; then
  echo "check-package: installing the package pulled in tsx" >&2
  exit 1
fi
npx --no-install oneiric-healthd --version
# Free ports: a daemon already on 8681 (CI runs beside others) would stop the demo with exit 69.
timeout 60 npx --no-install oneiric-healthd demo --duration 10 --free-ports >demo.log 2>&1 || {
  echo "check-package: the installed demo failed:" >&2
  tail -n 20 demo.log >&2
  exit 1
}
grep -q "demo stopped" demo.log
# The commands the demo prints are spelt for where it ran: npx, in the installing project.
# After the demo stopped, the file it left is read with the command its last line prints.
status_command=$(sed -n 's/^demo stopped; .*, read it with: \(npx oneiric-healthd status --db .*\)$/\1/p' demo.log)
if [ -z "$status_command" ]; then
  echo "check-package: the installed demo printed no npx status command:" >&2
  head -n 20 demo.log >&2
  exit 1
fi
eval "$status_command" | grep -q "mahavishnu.adapter.storage.s3" || {
  echo "check-package: the printed command failed: $status_command" >&2
  exit 1
}
echo "check-package: installed package runs (tarball $(du -k "$tarball" | cut -f1) KiB, $(wc -l <<<"$listing") files)"
