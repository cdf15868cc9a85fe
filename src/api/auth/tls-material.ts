import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import type { TlsFiles } from "../../config/load.js";

/** A server's certificate chain and key, and the CA client certificates must chain to (mTLS). */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  clientCa: Buffer | undefined;
}

/**
 * Reads and checks a server's TLS files at start-up. Neither node:https nor
 * grpc-js would say which file is wrong (grpc-js reports a bad key as "cannot
 * bind"; a bad client CA refuses every client), so each is parsed here and
 * an error names the file, never its contents.
 */
export function readTlsMaterial(files: TlsFiles, server: string): TlsMaterial {
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`${server} TLS ${what} ${path}: ${(error as NodeJS.ErrnoException).code}`);
    }
  };
  const cert = read(files.certPath, "certificate");
  const key = read(files.keyPath, "key");
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new Error(
      `${server} TLS certificate ${files.certPath} and key ${files.keyPath} do not load together: ${(error as Error).message}`,
    );
  }
  let clientCa: Buffer | undefined;
  if (files.clientCaPath !== undefined) {
    clientCa = read(files.clientCaPath, "client CA");
    try {
      new X509Certificate(clientCa);
    } catch (error) {
      throw new Error(
        `${server} TLS client CA ${files.clientCaPath} is not a PEM certificate: ${(error as Error).message}`,
      );
    }
  }
  return { cert, key, clientCa };
}
