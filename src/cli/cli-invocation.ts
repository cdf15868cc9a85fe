/**
 * How a person types this command line where they are, so the commands `demo`
 * prints work when pasted: `oneiric-healthd` when this package's bin is on PATH
 * (a global install, `npm link`), `npx oneiric-healthd` inside the project that
 * has it installed, else `node PATH/bin/oneiric-healthd.js` (a checkout, or an
 * installed copy seen from elsewhere).
 */
import { existsSync, realpathSync } from "node:fs";
import { basename, delimiter, dirname, isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const BIN_NAME = "oneiric-healthd";

/** The root of the package this module belongs to (the same from src/ and from dist/). */
export const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface InvocationPlace {
  /** The package's root directory (where its package.json and bin/ are). */
  packageRoot: string;
  /** The directory the commands will be typed in. */
  cwd: string;
  /** The PATH they will be typed with. */
  searchPath: string | undefined;
}

/** The words that start a command line, e.g. `npx oneiric-healthd`. */
export function cliInvocation(place: InvocationPlace): string {
  const root = realOrSame(place.packageRoot);
  const bin = join(root, "bin", `${BIN_NAME}.js`);
  if (binOnSearchPath(bin, place.searchPath)) return BIN_NAME;
  const cwd = realOrSame(place.cwd);
  const installedIn = projectInstalling(root);
  if (installedIn !== undefined && npmProjectOf(cwd) === installedIn) return `npx ${BIN_NAME}`;
  return `node ${shellWord(pathFrom(cwd, bin))}`;
}

/** `path` as typed from `cwd`: relative below it, absolute elsewhere. */
export function pathFrom(cwd: string, path: string): string {
  const below = relative(cwd, path);
  return below === "" || below.startsWith("..") || isAbsolute(below) ? path : below;
}

/** A word the shell passes through as it is: quoted only when it has to be. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Whether `oneiric-healthd` on PATH is this package's bin. A `node_modules/.bin`
 * entry does not count: npm puts the project's own there while it runs a script
 * or `npx`, and it is gone from the shell the person types in.
 */
function binOnSearchPath(bin: string, searchPath: string | undefined): boolean {
  for (const directory of (searchPath ?? "").split(delimiter)) {
    if (directory === "" || !isAbsolute(directory)) continue;
    if (basename(directory) === ".bin" && basename(dirname(directory)) === "node_modules") continue;
    const candidate = join(directory, BIN_NAME);
    if (existsSync(candidate) && realOrSame(candidate) === bin) return true;
  }
  return false;
}

/** The project whose node_modules holds the package at `root`, if it is installed. */
function projectInstalling(root: string): string | undefined {
  const parent = dirname(root);
  return basename(parent) === "node_modules" ? dirname(parent) : undefined;
}

/** The project npm runs `npx` in from `cwd`: the nearest directory with a package.json or node_modules. */
function npmProjectOf(cwd: string): string | undefined {
  for (let directory = cwd; ; directory = dirname(directory)) {
    if (existsSync(join(directory, "package.json")) || existsSync(join(directory, "node_modules")))
      return directory;
    if (dirname(directory) === directory) return undefined;
  }
}

function realOrSame(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
