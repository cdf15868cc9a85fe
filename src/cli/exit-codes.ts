/**
 * The CLI's exit codes, as `--help` lists them: 0 ok, 1 failure, 2 invalid
 * workflow file, 64 usage error (sysexits EX_USAGE), 69 a listen address in
 * use (EX_UNAVAILABLE), 78 configuration error (EX_CONFIG, owned by the config
 * loader).
 */
export { EXIT_CONFIG } from "../config/errors.js";

export const EXIT_FAILURE = 1;
/** `workflow check`: the file itself is wrong (as opposed to a requirement not being met). */
export const EXIT_INVALID_WORKFLOW = 2;
export const EXIT_USAGE = 64;
/** A listen address is taken (sysexits EX_UNAVAILABLE): another process holds it, so retrying may work. */
export const EXIT_UNAVAILABLE = 69;
