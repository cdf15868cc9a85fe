/** Where `simulate` listens unless told otherwise: the registry's usual address. */
export const DEFAULT_SIMULATOR_LISTEN = "127.0.0.1:8679";
