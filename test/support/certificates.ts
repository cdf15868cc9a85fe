/**
 * Throwaway PKI for TLS/mTLS tests, made with the `openssl` command line: a CA, a server
 * certificate for localhost/127.0.0.1 and a client certificate signed by it, plus an unrelated
 * "wrong" CA with its own client certificate for the negative cases.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface GeneratedCertificates {
  /** The directory everything was written into. */
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing the server trusts. */
  wrongCaCert: string;
  wrongClientCert: string;
  wrongClientKey: string;
  /** Reads one of the paths above. */
  read(path: string): Buffer;
}

const OPENSSL = "openssl";
// Long enough for any test run, short enough that a leaked key is useless.
const VALID_DAYS = "2";
// P-256 keys generate in about a millisecond; RSA 2048 would take tens per key.
const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/**
 * Our own minimal `req` config, so the result does not depend on the system openssl.cnf
 * (its default extensions differ between distributions and OpenSSL 1.1/3).
 */
const REQ_CONFIG = [
  "[req]",
  "distinguished_name = dn",
  "prompt = no",
  "[dn]",
  "[ca_ext]",
  "basicConstraints = critical,CA:TRUE",
  "keyUsage = critical,keyCertSign,cRLSign",
  "subjectKeyIdentifier = hash",
  "",
].join("\n");

// OpenSSL 3 (and Node's verifier) want leaf certificates that say they are not CAs and what
// they are for; the SAN is what hostname verification checks, the CN is ignored.
const SERVER_EXT = [
  "basicConstraints = critical,CA:FALSE",
  "keyUsage = critical,digitalSignature,keyEncipherment",
  "extendedKeyUsage = serverAuth",
  "subjectAltName = DNS:localhost,IP:127.0.0.1",
  "subjectKeyIdentifier = hash",
  "authorityKeyIdentifier = keyid",
  "",
].join("\n");

const CLIENT_EXT = [
  "basicConstraints = critical,CA:FALSE",
  "keyUsage = critical,digitalSignature",
  "extendedKeyUsage = clientAuth",
  "subjectKeyIdentifier = hash",
  "authorityKeyIdentifier = keyid",
  "",
].join("\n");

/** Writes a fresh CA, server and client certificates into `dir` (which must exist). */
export function generateCertificates(dir: string): GeneratedCertificates {
  const path = (name: string) => join(dir, name);
  const reqConfig = path("req.cnf");
  const serverExt = path("server.ext");
  const clientExt = path("client.ext");
  writeFileSync(reqConfig, REQ_CONFIG);
  writeFileSync(serverExt, SERVER_EXT);
  writeFileSync(clientExt, CLIENT_EXT);

  const selfSignedCa = (name: string, cn: string) =>
    openssl([
      "req",
      "-x509",
      ...EC_KEY,
      "-config",
      reqConfig,
      "-extensions",
      "ca_ext",
      "-subj",
      `/CN=${cn}`,
      "-days",
      VALID_DAYS,
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.crt`),
    ]);

  const signedLeaf = (name: string, cn: string, ca: string, extFile: string) => {
    openssl([
      "req",
      "-new",
      ...EC_KEY,
      "-config",
      reqConfig,
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.csr`),
    ]);
    openssl([
      "x509",
      "-req",
      "-in",
      path(`${name}.csr`),
      "-CA",
      path(`${ca}.crt`),
      "-CAkey",
      path(`${ca}.key`),
      // An explicit random serial instead of -CAcreateserial, which leaves a .srl file and
      // would reuse serials across CAs.
      "-set_serial",
      `0x${randomBytes(8).toString("hex")}`,
      "-days",
      VALID_DAYS,
      "-sha256",
      "-extfile",
      extFile,
      "-out",
      path(`${name}.crt`),
    ]);
  };

  selfSignedCa("ca", "oneiric-healthd test CA");
  signedLeaf("server", "localhost", "ca", serverExt);
  signedLeaf("client", "oneiric-healthd test client", "ca", clientExt);
  selfSignedCa("wrong-ca", "oneiric-healthd wrong CA");
  signedLeaf("wrong-client", "oneiric-healthd wrong client", "wrong-ca", clientExt);

  return {
    dir,
    caCert: path("ca.crt"),
    serverCert: path("server.crt"),
    serverKey: path("server.key"),
    clientCert: path("client.crt"),
    clientKey: path("client.key"),
    wrongCaCert: path("wrong-ca.crt"),
    wrongClientCert: path("wrong-client.crt"),
    wrongClientKey: path("wrong-client.key"),
    read: (file: string) => readFileSync(file),
  };
}

function openssl(args: string[]): void {
  try {
    // stdin ignored: if a prompt ever appeared it would end instead of hanging the test run.
    execFileSync(OPENSSL, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl ${args[0]} failed${stderr ? `: ${stderr}` : ""}`, { cause: error });
  }
}
