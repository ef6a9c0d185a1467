/**
 * Bare Fastify serving the same bytes as the service: `node dist/scripts/bench/bare-server.js
 * <response.json>`, where the file holds one answer the service gave a new visitor (its
 * headers and body, recorded by recordResponse in service-processes.ts). No plugin, no hook, no rendering, no logger:
 * one route that sends those headers and that body. What serving the page costs before the
 * service does anything of its own; the port goes to the parent over IPC, as server.ts does.
 */
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import type { ListeningMessage } from './server.js'

export interface RecordedResponse {
  path: string
  headers: Record<string, string>
  /** The body, base64. */
  body: string
}

async function main (): Promise<void> {
  const file = process.argv[2]
  if (file === undefined) throw new Error('usage: bare-server.js <response.json>')
  const recorded = JSON.parse(readFileSync(file, 'utf8')) as RecordedResponse
  const body = Buffer.from(recorded.body, 'base64')
  const fastify = Fastify()
  fastify.get(recorded.path, async (_request, reply) => await reply.headers(recorded.headers).send(body))
  const stop = (): void => { void fastify.close().then(() => process.exit(0)) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.on('disconnect', stop)
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  process.send?.({ port } satisfies ListeningMessage)
}

await main()
