import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

/** A private CA and a certificate for 127.0.0.1 it signed, made in `dir` with openssl. */
export interface TestCertificates {
  ca: string
  /** redis-server arguments serving TLS on `port` (and none in plain text) with that certificate. */
  serverArgs: (port: number) => string[]
}

export function makeTestCertificates (dir: string): TestCertificates {
  const openssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }) }
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=thead test CA', '-keyout', 'ca.key', '-out', 'ca.pem')
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'redis.key', '-out', 'redis.csr')
  openssl('x509', '-req', '-in', 'redis.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-copy_extensions', 'copy', '-out', 'redis.pem')
  return {
    ca: join(dir, 'ca.pem'),
    serverArgs: (port) => ['--port', '0', '--tls-port', String(port), '--tls-cert-file', join(dir, 'redis.pem'), '--tls-key-file', join(dir, 'redis.key'), '--tls-ca-cert-file', join(dir, 'ca.pem'), '--tls-auth-clients', 'no']
  }
}
