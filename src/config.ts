import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { envSchema } from 'env-schema'
import { Type, type Static } from 'typebox'
import { isTimeZone, parseHostPort, parseOrigins, parseTrustProxy, type TrustProxy } from './config-values.js'
import { ConfigError } from './errors.js'
import { loadPages, type PageConfig } from './pages.js'

export { ConfigError }

/** The visitor log's length cap by default (VISIT_LOG_MAX_ENTRIES), on top of its trimming by age. */
export const DEFAULT_VISIT_LOG_MAX_ENTRIES = 1_000_000

/** The project root (the nearest folder above with a package.json), from src/ and dist/src/ alike. */
export const projectRoot = rootAbove(dirname(fileURLToPath(import.meta.url)))

function rootAbove (dir: string): string {
  return existsSync(join(dir, 'package.json')) ? `${dir}/` : rootAbove(dirname(dir))
}

const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  // A pattern's description completes "… must be" in the error that names the variable.
  TRUST_PROXY: Type.String({ pattern: '^(true|false|\\d+|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$', description: 'true, false, a hop count, or proxy addresses or CIDRs, comma-separated', default: 'false' }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  REDIS_URL: Type.String({ pattern: '^rediss?://', description: 'a redis:// or rediss:// URL', default: 'redis://127.0.0.1:6379' }),
  REDIS_SENTINELS: Type.Optional(Type.String({ pattern: '^[^,:\\s]+:\\d+(,[^,:\\s]+:\\d+)*$', description: 'host:port pairs, comma-separated' })),
  REDIS_MASTER_NAME: Type.String({ minLength: 1, default: 'THEAD_CLUSTER' }),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: '^[^,:\\s]+:\\d+(,[^,:\\s]+:\\d+)*$', description: 'host:port pairs, comma-separated' })),
  REDIS_USERNAME: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_PASSWORD: Type.Optional(Type.String()),
  REDIS_TLS: Type.Boolean({ default: false }),
  REDIS_TLS_CA: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_SENTINEL_PASSWORD: Type.Optional(Type.String()),
  REDIS_WAIT_REPLICAS: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 })),
  REDIS_WAIT_TIMEOUT_MS: Type.Integer({ minimum: 1, maximum: 10000, default: 100 }),
  EMBEDDED_REDIS: Type.Enum(['auto', 'off'], { default: 'auto' }),
  EMBEDDED_REDIS_DIR: Type.String({ minLength: 1, default: 'var/redis' }),
  COOKIE_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  TIME_ZONE: Type.Optional(Type.String({ minLength: 1 })),
  PAGES_FILE: Type.String({ minLength: 1, default: 'config/pages.json' }),
  LOG_FULL_IP: Type.Boolean({ default: false }),
  STATS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  STATS_PUBLIC: Type.Boolean({ default: true }),
  VIEW_LIMIT_PER_IP: Type.Integer({ minimum: 0, default: 120 }),
  VISITOR_ID_MODE: Type.Enum(['cookie', 'cookieless'], { default: 'cookie' }),
  HONOR_DNT: Type.Boolean({ default: false }),
  PAGE_COUNT_WAIT_MS: Type.Integer({ minimum: 0, maximum: 5000, default: 250 }),
  SPOOL_LIMIT: Type.Integer({ minimum: 1, default: 100000 }),
  SPOOL_JOURNAL: Type.String({ minLength: 1, default: 'var/spool.journal' }),
  RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 400 }),
  VISIT_LOG_MAX_ENTRIES: Type.Integer({ minimum: 1000, default: DEFAULT_VISIT_LOG_MAX_ENTRIES }),
  SELF_ORIGINS: Type.String({ default: '' }),
  WORKERS: Type.String({ pattern: '^(auto|[1-9]\\d{0,2})$', description: 'a number of service processes from 1 to 999, or auto for one per core', default: '1' })
})

type Env = Static<typeof EnvSchema>

export interface Config {
  port: number
  host: string
  trustProxy: TrustProxy
  logLevel: string
  redis: RedisConfig
  embeddedRedis: 'auto' | 'off'
  /** Where the embedded redis-server keeps its data, relative to the project root. */
  embeddedRedisDir: string
  cookieSecret: string
  /** True when COOKIE_SECRET was unset and a per-process secret was made up. */
  cookieSecretGenerated: boolean
  timeZone: string
  /** The counted pages; the first is the one /stats answers for by default. */
  pages: PageConfig[]
  /** Keep visitors' full IP addresses in the log instead of their networks. */
  logFullIp: boolean
  /** The token for the visitor log and the dashboard; without one they are switched off. */
  statsToken: string | undefined
  /** Whether aggregate /stats is open to everyone or needs the token too. */
  statsPublic: boolean
  /** Views counted per client IP and minute, across all instances; 0 turns the limit off. */
  viewLimitPerIp: number
  /** `cookie`: a signed visitor cookie; `cookieless`: a daily-salted hash of IP and user agent. */
  visitorIdMode: 'cookie' | 'cookieless'
  /** Count views that send DNT or Sec-GPC, but keep them out of the uniques and the log. */
  honorDnt: boolean
  pageCountWaitMs: number
  spoolLimit: number
  spoolJournal: string
  retentionDays: number
  /** Visitor-log entries kept at most, on top of the retention; in a cluster, per master. */
  visitLogMaxEntries: number
  /** Origins whose pages are thead's own besides the host a request names: views from them have no referrer. */
  selfOrigins: string[]
  /** Service processes one start runs; more than one are workers of one primary (src/workers.ts). */
  workers: number
  /** Which of them this process is, from 1; 0 when it is the only one. */
  workerSlot: number
}

/** Where Redis is, and how many replicas must hold a view before it leaves the spool. */
type RedisMode = { waitReplicas: number } & (
  | { mode: 'standalone', url: string }
  | { mode: 'sentinel', sentinels: Array<{ host: string, port: number }>, masterName: string, sentinelPassword?: string }
  | { mode: 'cluster', nodes: Array<{ host: string, port: number }> }
)

export type RedisConfig = {
  username?: string
  password?: string
  /** TLS to Redis (and to the sentinels): on for rediss:// URLs and with REDIS_TLS. */
  tls?: { ca?: string }
  waitTimeoutMs: number
} & RedisMode

/** Reads and validates the configuration; throws a ConfigError whose message is one line. */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  let parsed: Env
  try {
    parsed = envSchema<Env>({ schema: EnvSchema, data: env, env: false })
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as { errors: SchemaError[] }).errors.map(describe).join(', ')}`)
  }
  if (!URL.canParse(parsed.REDIS_URL)) throw new ConfigError('invalid configuration: REDIS_URL is not a valid URL')
  const timeZone = parsed.TIME_ZONE ?? Intl.DateTimeFormat().resolvedOptions().timeZone
  if (!isTimeZone(timeZone)) throw new ConfigError(`invalid configuration: TIME_ZONE "${timeZone}" is not an IANA time zone`)

  // A visitor's cookie must be honoured by whichever worker the next request reaches.
  if (parsed.WORKERS !== '1' && parsed.COOKIE_SECRET === undefined) throw new ConfigError('invalid configuration: WORKERS needs COOKIE_SECRET: every worker must recognise the visitor cookies the others made')
  if (isDirectory(resolve(projectRoot, parsed.SPOOL_JOURNAL))) throw new ConfigError(`invalid configuration: SPOOL_JOURNAL ${parsed.SPOOL_JOURNAL} is a directory: set it to a file's path`)

  let pages: PageConfig[]
  try {
    pages = loadPages(parsed.PAGES_FILE, projectRoot)
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`)
  }

  let tls: RedisConfig['tls']
  if (parsed.REDIS_TLS || parsed.REDIS_URL.startsWith('rediss:')) {
    try {
      tls = parsed.REDIS_TLS_CA === undefined ? {} : { ca: readFileSync(resolve(projectRoot, parsed.REDIS_TLS_CA), 'utf8') }
    } catch (error) {
      throw new ConfigError(`invalid configuration: REDIS_TLS_CA can't be read: ${(error as Error).message}`)
    }
  }

  const common = {
    username: parsed.REDIS_USERNAME,
    password: parsed.REDIS_PASSWORD,
    tls,
    waitTimeoutMs: parsed.REDIS_WAIT_TIMEOUT_MS
  }
  const redis: RedisConfig = { ...common, ...redisMode(parsed) }

  return {
    port: parsed.PORT,
    host: parsed.HOST,
    trustProxy: parseTrustProxy(parsed.TRUST_PROXY),
    logLevel: parsed.LOG_LEVEL,
    redis,
    embeddedRedis: parsed.EMBEDDED_REDIS,
    embeddedRedisDir: resolve(projectRoot, parsed.EMBEDDED_REDIS_DIR),
    cookieSecret: parsed.COOKIE_SECRET ?? randomBytes(32).toString('base64url'),
    cookieSecretGenerated: parsed.COOKIE_SECRET === undefined,
    timeZone,
    pages,
    logFullIp: parsed.LOG_FULL_IP,
    statsToken: parsed.STATS_TOKEN,
    statsPublic: parsed.STATS_PUBLIC,
    viewLimitPerIp: parsed.VIEW_LIMIT_PER_IP,
    visitorIdMode: parsed.VISITOR_ID_MODE as Config['visitorIdMode'],
    honorDnt: parsed.HONOR_DNT,
    pageCountWaitMs: parsed.PAGE_COUNT_WAIT_MS,
    spoolLimit: parsed.SPOOL_LIMIT,
    spoolJournal: parsed.SPOOL_JOURNAL,
    retentionDays: parsed.RETENTION_DAYS,
    visitLogMaxEntries: parsed.VISIT_LOG_MAX_ENTRIES,
    selfOrigins: parseOrigins(parsed.SELF_ORIGINS),
    workers: parsed.WORKERS === 'auto' ? availableParallelism() : Number(parsed.WORKERS),
    workerSlot: 0
  }
}

/** One server, a master found through Sentinel, or a cluster. */
function redisMode (parsed: Env): RedisMode {
  if (parsed.REDIS_SENTINELS !== undefined && parsed.REDIS_CLUSTER_NODES !== undefined) throw new ConfigError('invalid configuration: set REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both')
  if (parsed.REDIS_SENTINELS !== undefined) {
    return {
      mode: 'sentinel',
      sentinels: parsed.REDIS_SENTINELS.split(',').map(parseHostPort),
      masterName: parsed.REDIS_MASTER_NAME,
      sentinelPassword: parsed.REDIS_SENTINEL_PASSWORD,
      // A sentinel setup exists to survive losing the master, so by default a view
      // is only let go once a replica holds it.
      waitReplicas: parsed.REDIS_WAIT_REPLICAS ?? 1
    }
  }
  // As with Sentinel, a part of a batch is let go once its shard's replica holds it.
  if (parsed.REDIS_CLUSTER_NODES !== undefined) return { mode: 'cluster', nodes: parsed.REDIS_CLUSTER_NODES.split(',').map(parseHostPort), waitReplicas: parsed.REDIS_WAIT_REPLICAS ?? 1 }
  return { mode: 'standalone', url: parsed.REDIS_URL, waitReplicas: parsed.REDIS_WAIT_REPLICAS ?? 0 }
}

/** An error of env-schema's validator (ajv), for one variable. */
interface SchemaError {
  instancePath: string
  keyword: string
  params: { allowedValues?: string[], type?: string }
  message?: string
}

/** One line naming the variable and what it takes: a fixed set of values is listed. */
function describe (error: SchemaError): string {
  const name = error.instancePath.slice(1)
  if (error.keyword === 'enum') return `${name} must be one of ${(error.params.allowedValues as string[]).join(', ')}`
  if (error.keyword === 'pattern') return `${name} must be ${(EnvSchema.properties[name as keyof Env] as { description?: string }).description}`
  if (error.params.type === 'boolean') return `${name} must be true or false`
  return `${name} ${error.message}`
}

function isDirectory (path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true
}




