import {
  type ConfigOverrides,
  type DaemonConfig,
  defaultConfig,
  loadConfigFile,
} from "../config/load.js";

/** Where `run` read its configuration, so SIGHUP reads the same again. */
export interface ConfigSource {
  file: string | undefined;
  overrides: ConfigOverrides;
}

/** The file's configuration (variables from the environment), or the defaults without a file. */
export function loadConfig(file: string | undefined, overrides: ConfigOverrides): DaemonConfig {
  return file === undefined
    ? defaultConfig(overrides)
    : loadConfigFile(file, process.env, overrides);
}
