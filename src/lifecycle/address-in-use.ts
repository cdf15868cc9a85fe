/**
 * A listen address another process holds. Servers (the daemon's HTTP and gRPC
 * listeners, the simulator's) throw it instead of the raw EADDRINUSE, so the
 * command line can say which address, what probably holds it and what to pass
 * instead, and exit 69 (EX_UNAVAILABLE) rather than 1.
 */

/** The listener that could not bind, as named in the message. */
export type ListenSurface = "HTTP" | "gRPC" | "simulated registry" | "simulator HTTP";

export class AddressInUseError extends Error {
  readonly code = "ADDRESS_IN_USE";
  constructor(
    readonly surface: ListenSurface,
    /** `HOST:PORT` as asked for. */
    readonly address: string,
    /** What to do about it, in the words of the command that listened (`pass --http-listen …`). */
    readonly hint?: string,
  ) {
    const holder = surface === "HTTP" || surface === "gRPC" ? "oneiric-healthd" : "simulator";
    super(
      `${surface} address ${address} is in use (another ${holder}?)${hint === undefined ? "" : `; ${hint}`}`,
    );
    this.name = "AddressInUseError";
  }

  /** The same error, with the command's advice. */
  withHint(hint: string): AddressInUseError {
    return new AddressInUseError(this.surface, this.address, hint);
  }
}

/**
 * Whether a listen failure is a taken address: Node's errors carry the code,
 * grpc-js only names it inside its message ("No address added out of total 1
 * resolved errors: [listen EADDRINUSE: …]").
 */
export function isAddressInUse(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    (error as NodeJS.ErrnoException).code === "EADDRINUSE" || /\bEADDRINUSE\b/.test(error.message)
  );
}
