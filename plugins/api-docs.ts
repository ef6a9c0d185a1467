import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'

/** Publishes the routes' schemas as OpenAPI: a browsable UI at /docs, the document at /docs/json. */
export default fp(async function apiDocsPlugin (fastify) {
  await fastify.register(swagger, {
    openapi: {
      info: { title: 'thead', description: 'An ad page whose views, unique visitors and visitor log are counted in Redis', version: '1' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'The STATS_TOKEN' },
          basic: { type: 'http', scheme: 'basic', description: 'Any user name, the STATS_TOKEN as password' }
        }
      }
    },
    // Shared schemas become components named by their $id (addSchema requires one).
    refResolver: { buildLocalReference: (json) => json.$id as string }
  })
  // No staticCSP: its policy forbids the inline styles Swagger UI sets as it renders, so the page
  // broke its own CSP. The service's policy (security-headers) allows those and all else the UI
  // loads, which is its own files under /docs/static.
  await fastify.register(swaggerUi, { routePrefix: '/docs' })
}, { name: 'api-docs' })
