import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { projectRoot } from '../../src/config.js'

// What the compose tests read of docker/'s compose files.

/** A compose service, as far as the tests read it. */
export interface Service {
  image?: string
  build?: { context: string, dockerfile: string }
  network_mode?: string
  restart?: string
  volumes?: string[]
  command?: string[]
  environment?: Record<string, string>
  healthcheck?: { test: string[] }
  ports?: string[]
  container_name?: string
  deploy?: { replicas: number }
  depends_on?: string[] | Record<string, { condition: string }>
}

export interface ComposeFile {
  services: Record<string, Service>
  volumes: Record<string, unknown>
}

export const composeDir = join(projectRoot, 'docker')

/** A compose file of docker/, read as compose reads it: with `<<:` merge keys, which YAML 1.2 parsers leave off unless asked. */
export function readCompose (name: string): ComposeFile {
  return parse(readFileSync(join(composeDir, name), 'utf8'), { merge: true }) as ComposeFile
}
