import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { ConfigError, loadConfig, projectRoot } from '../../src/config.js'

const SECRET = 'x'.repeat(32)

/** The error loadConfig throws for `env`, or undefined when it takes it. */
function refusal (env: Record<string, string>): Error | undefined {
  try {
    loadConfig(env)
  } catch (error) {
    return error as Error
  }
  return undefined
}

t.test('with no variables set, the defaults make a working local setup', async (t) => {
  const config = loadConfig({})
  t.match(config, {
    port: 3000,
    host: '127.0.0.1',
    trustProxy: false,
    logLevel: 'info',
    redis: { mode: 'standalone', url: 'redis://127.0.0.1:6379', waitReplicas: 0, waitTimeoutMs: 100, tls: undefined },
    embeddedRedis: 'auto',
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    logFullIp: false,
    statsToken: undefined,
    statsPublic: true,
    viewLimitPerIp: 120,
    visitorIdMode: 'cookie',
    honorDnt: false,
    pageCountWaitMs: 250,
    spoolLimit: 100000,
    spoolJournal: 'var/spool.journal',
    retentionDays: 400
  })
  t.same(config.pages.map((page) => page.name), ['index', 'promo'], 'the shipped pages file')
})

t.test('the variables set are the ones used', async (t) => {
  const config = loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    LOG_LEVEL: 'warn',
    REDIS_URL: 'redis://redis.internal:6380/2',
    REDIS_USERNAME: 'thead',
    REDIS_PASSWORD: 'pw',
    REDIS_WAIT_REPLICAS: '2',
    REDIS_WAIT_TIMEOUT_MS: '250',
    EMBEDDED_REDIS: 'off',
    COOKIE_SECRET: SECRET,
    TIME_ZONE: 'Europe/Moscow',
    LOG_FULL_IP: 'true',
    STATS_TOKEN: 'a-token-of-16-chars',
    STATS_PUBLIC: 'false',
    VIEW_LIMIT_PER_IP: '0',
    VISITOR_ID_MODE: 'cookieless',
    HONOR_DNT: 'true',
    PAGE_COUNT_WAIT_MS: '0',
    SPOOL_LIMIT: '10',
    SPOOL_JOURNAL: '/tmp/elsewhere.journal',
    RETENTION_DAYS: '30'
  })
  t.match(config, {
    port: 8080,
    host: '0.0.0.0',
    logLevel: 'warn',
    redis: { mode: 'standalone', url: 'redis://redis.internal:6380/2', username: 'thead', password: 'pw', waitReplicas: 2, waitTimeoutMs: 250 },
    embeddedRedis: 'off',
    cookieSecret: SECRET,
    cookieSecretGenerated: false,
    timeZone: 'Europe/Moscow',
    logFullIp: true,
    statsToken: 'a-token-of-16-chars',
    statsPublic: false,
    viewLimitPerIp: 0,
    visitorIdMode: 'cookieless',
    honorDnt: true,
    pageCountWaitMs: 0,
    spoolLimit: 10,
    spoolJournal: '/tmp/elsewhere.journal',
    retentionDays: 30
  })
})

t.test('without COOKIE_SECRET each start makes up a strong secret of its own', async (t) => {
  const first = loadConfig({})
  const second = loadConfig({})
  t.equal(first.cookieSecretGenerated, true, 'and says so, so the server can warn')
  t.ok(first.cookieSecret.length >= 32)
  t.not(first.cookieSecret, second.cookieSecret)
})

/** A pages file in `dir` holding the shipped ad page and `page`. */
function pagesFile (dir: string, page: Record<string, string>): string {
  const file = join(dir, `${page.name as string}.json`)
  writeFileSync(file, JSON.stringify({ pages: [{ name: 'index', path: '/', template: 'config/ad-page.html' }, page] }))
  return file
}

t.test('a bad value is refused with one line naming the variable', async (t) => {
  const dir = t.testdir()
  const bad: Record<string, [Record<string, string>, RegExp]> = {
    'a port that is not a number': [{ PORT: 'abc' }, /PORT must be integer/],
    'a port out of range': [{ PORT: '70000' }, /PORT must be <= 65535/],
    'an empty host': [{ HOST: '' }, /HOST/],
    'an unknown log level': [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent$/],
    'a URL that is not Redis\'s': [{ REDIS_URL: 'http://127.0.0.1:6379' }, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL$/],
    'a Redis URL with a port out of range': [{ REDIS_URL: 'redis://127.0.0.1:99999' }, /REDIS_URL/],
    'a Redis URL with a space in the host': [{ REDIS_URL: 'redis://redis host:6379' }, /REDIS_URL/],
    'sentinels without ports': [{ REDIS_SENTINELS: 'sentinel-1,sentinel-2' }, /REDIS_SENTINELS must be host:port pairs, comma-separated$/],
    'cluster nodes without ports': [{ REDIS_CLUSTER_NODES: 'node-1,node-2' }, /REDIS_CLUSTER_NODES must be host:port pairs, comma-separated$/],
    'both Sentinel and a cluster': [{ REDIS_SENTINELS: 'a:26379', REDIS_CLUSTER_NODES: 'b:6379' }, /set REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both$/],
    'a visitor log cap too small to page through': [{ VISIT_LOG_MAX_ENTRIES: '10' }, /VISIT_LOG_MAX_ENTRIES must be >= 1000/],
    'too many replicas to wait for': [{ REDIS_WAIT_REPLICAS: '17' }, /REDIS_WAIT_REPLICAS/],
    'a zero wait timeout': [{ REDIS_WAIT_TIMEOUT_MS: '0' }, /REDIS_WAIT_TIMEOUT_MS/],
    'a yes-or-no that is neither': [{ REDIS_TLS: 'perhaps' }, /REDIS_TLS must be true or false$/],
    'an unknown embedded mode': [{ EMBEDDED_REDIS: 'yes' }, /EMBEDDED_REDIS must be one of auto, off$/],
    'a short cookie secret': [{ COOKIE_SECRET: 'short' }, /COOKIE_SECRET must NOT have fewer than 32 characters/],
    'a short stats token': [{ STATS_TOKEN: 'short' }, /STATS_TOKEN/],
    'a time zone that does not exist': [{ TIME_ZONE: 'Mars/Olympus_Mons' }, /TIME_ZONE "Mars\/Olympus_Mons" is not an IANA time zone/],
    'an unknown visitor id mode': [{ VISITOR_ID_MODE: 'fingerprint' }, /VISITOR_ID_MODE must be one of cookie, cookieless$/],
    'a trust-proxy value that is no address': [{ TRUST_PROXY: 'everyone' }, /TRUST_PROXY must be true, false, a hop count, or proxy addresses or CIDRs, comma-separated$/],
    'a trust-proxy address out of range': [{ TRUST_PROXY: '127.0.0.1,10.0.0.300' }, /TRUST_PROXY: invalid IP address: 10.0.0.300/],
    'a negative view limit': [{ VIEW_LIMIT_PER_IP: '-1' }, /VIEW_LIMIT_PER_IP/],
    'a page wait over 5 s': [{ PAGE_COUNT_WAIT_MS: '6000' }, /PAGE_COUNT_WAIT_MS/],
    'an empty spool': [{ SPOOL_LIMIT: '0' }, /SPOOL_LIMIT must be >= 1/],
    'no retention': [{ RETENTION_DAYS: '0' }, /RETENTION_DAYS/],
    'a pages file that is missing': [{ PAGES_FILE: 'config/no-such-pages.json' }, /PAGES_FILE config\/no-such-pages.json can't be read/],
    'a CA file that is missing': [{ REDIS_TLS: 'true', REDIS_TLS_CA: 'config/no-such-ca.pem' }, /REDIS_TLS_CA can't be read/],
    'a journal path that is a directory': [{ SPOOL_JOURNAL: 'config' }, /SPOOL_JOURNAL config is a directory: set it to a file's path$/],
    'a page at a path of the service\'s own': [{ PAGES_FILE: pagesFile(dir, { name: 'health', path: '/healthz', template: 'config/ad-page.html' }) }, /page 2: "path" \/healthz clashes with the service's own \/healthz: choose a path outside /],
    'a page whose template is missing': [{ PAGES_FILE: pagesFile(dir, { name: 'gone', path: '/gone', template: 'config/no-such-page.html' }) }, /page 2: "template" config\/no-such-page.html can't be read \(ENOENT\): create it, or point "template" at the page's HTML file$/]
  }
  for (const [name, [env, reason]] of Object.entries(bad)) {
    const error = refusal(env)
    t.ok(error instanceof ConfigError, `${name}: a configuration error`)
    t.match(error?.message, /^invalid configuration: [^\n]+$/, `${name}: one line`)
    t.match(error?.message, reason, `${name}: says what is wrong`)
  }
})

t.test('several bad values are all named at once', async (t) => {
  t.match(refusal({ PORT: 'abc', LOG_LEVEL: 'loud' })?.message, /^invalid configuration: PORT must be integer, LOG_LEVEL [^\n]+$/)
})

t.test('REDIS_SENTINELS switches to Sentinel, which waits for a replica by default', async (t) => {
  const config = loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379,sentinel-b:26380', REDIS_SENTINEL_PASSWORD: 'spw' })
  t.same(config.redis, {
    mode: 'sentinel',
    sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: 'sentinel-b', port: 26380 }],
    masterName: 'THEAD_CLUSTER',
    sentinelPassword: 'spw',
    username: undefined,
    password: undefined,
    tls: undefined,
    waitReplicas: 1,
    waitTimeoutMs: 100
  })
  const named = loadConfig({ REDIS_SENTINELS: 'localhost:26379', REDIS_MASTER_NAME: 'other', REDIS_WAIT_REPLICAS: '0' })
  t.match(named.redis, { masterName: 'other', waitReplicas: 0 }, 'both can be set')
})

t.test('REDIS_CLUSTER_NODES switches to a Redis Cluster, which waits for each shard\'s replica by default', async (t) => {
  const config = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,node-b:7001', REDIS_PASSWORD: 'pw', VISIT_LOG_MAX_ENTRIES: '5000' })
  t.same(config.redis, {
    mode: 'cluster',
    nodes: [{ host: '10.0.0.1', port: 7000 }, { host: 'node-b', port: 7001 }],
    username: undefined,
    password: 'pw',
    tls: undefined,
    waitReplicas: 1,
    waitTimeoutMs: 100
  })
  t.equal(config.visitLogMaxEntries, 5000)
  t.equal(loadConfig({ REDIS_CLUSTER_NODES: 'localhost:7000', REDIS_WAIT_REPLICAS: '0' }).redis.waitReplicas, 0, 'a cluster without replicas')
  t.equal(loadConfig({}).visitLogMaxEntries, 1_000_000, 'a million log entries by default')
})

t.test('TLS is on for rediss:// URLs and with REDIS_TLS, with an optional private CA', async (t) => {
  t.same(loadConfig({ REDIS_URL: 'rediss://redis.example:6380' }).redis.tls, {}, 'rediss:// alone: the system CAs')
  t.same(loadConfig({ REDIS_TLS: 'true' }).redis.tls, {}, 'REDIS_TLS alone: the system CAs')
  t.equal(loadConfig({ REDIS_TLS: 'false' }).redis.tls, undefined, 'off')
  const ca = join(t.testdir(), 'ca.pem')
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n')
  t.same(loadConfig({ REDIS_TLS: 'true', REDIS_TLS_CA: ca }).redis.tls, { ca: readFileSync(ca, 'utf8') }, 'the CA file\'s contents')
  t.equal(loadConfig({ REDIS_TLS_CA: ca }).redis.tls, undefined, 'a CA alone does not turn TLS on')
})

t.test('TRUST_PROXY takes yes or no, a hop count, or proxy addresses', async (t) => {
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  const proxies = loadConfig({ TRUST_PROXY: '10.0.0.0/8,::1,127.0.0.1' }).trustProxy
  if (typeof proxies !== 'function') throw new Error('a list of proxies should be a function')
  const addresses = ['10.1.2.3', '::1', '127.0.0.1', '::ffff:127.0.0.1', '11.0.0.1', '127.0.0.2', '::2', 'not an address']
  t.same(addresses.map((address) => proxies(address, 0)), [true, true, true, true, false, false, false, false], 'those addresses and ranges, no others')
  t.same(addresses.map((address) => proxies(address, 5)), [true, true, true, true, false, false, false, false], 'at any hop')
  const hops = loadConfig({ TRUST_PROXY: '2' }).trustProxy
  if (typeof hops !== 'function') throw new Error('a hop count should be a function')
  t.same([0, 1, 2, 3].map((hop) => hops('10.0.0.1', hop)), [true, true, false, false], 'two proxies are believed, no more')
})

t.test('relative paths are the project\'s, whatever the working directory', async (t) => {
  t.ok(existsSync(join(projectRoot, 'package.json')), 'the project root holds package.json')
  t.ok(projectRoot.endsWith('/'))
  const cwd = process.cwd()
  process.chdir(t.testdir())
  t.teardown(() => process.chdir(cwd))
  const config = loadConfig({ PAGES_FILE: 'config/pages.json', REDIS_TLS: 'true', REDIS_TLS_CA: 'config/pages.json' })
  t.equal(config.pages[0]?.template, 'config/ad-page.html')
  t.equal(config.redis.tls?.ca, readFileSync(join(projectRoot, 'config/pages.json'), 'utf8'))
})


t.test('the project root is the project\'s even when it is checked out under a directory named dist', async (t) => {
  const root = join(mkdtempSync(join(tmpdir(), 'thead-')), 'dist', 'thead')
  t.teardown(() => rmSync(dirname(dirname(root)), { recursive: true, force: true }))
  for (const file of ['package.json', 'src/config.ts', 'src/config-values.ts', 'src/errors.ts', 'src/memo.ts', 'src/pages.ts']) {
    mkdirSync(dirname(join(root, file)), { recursive: true })
    copyFileSync(join(projectRoot, file), join(root, file))
  }
  symlinkSync(join(projectRoot, 'node_modules'), join(root, 'node_modules'))
  const copy = await import(pathToFileURL(join(root, 'src', 'config.ts')).href) as { projectRoot: string }
  t.equal(copy.projectRoot, `${root}/`)
})

t.test('SELF_ORIGINS lists the operator\'s own sites as origins, read as a referrer\'s origin reads', async (t) => {
  t.same(loadConfig({}).selfOrigins, [], 'none by default')
  t.same(loadConfig({ SELF_ORIGINS: '' }).selfOrigins, [], 'set empty: none')
  t.same(loadConfig({ SELF_ORIGINS: 'https://www.example.com, HTTP://Blog.Example.COM:80/,http://example.com:8080,' }).selfOrigins,
    ['https://www.example.com', 'http://blog.example.com', 'http://example.com:8080'], 'spaces, a trailing slash or comma, letter case and default ports as a browser sends them')
  const bad: Record<string, string> = {
    'a host without a scheme': 'www.example.com',
    'a scheme other than http(s)': 'ftp://example.com',
    'a path': 'https://example.com/blog',
    'a query': 'https://example.com?from=x',
    'a user': 'https://user@example.com',
    'a line break': 'https://example.com,https://a\nb.example'
  }
  for (const [name, value] of Object.entries(bad)) {
    const error = refusal({ SELF_ORIGINS: value })
    t.ok(error instanceof ConfigError, `${name} is refused`)
    t.match(error?.message, /^invalid configuration: SELF_ORIGINS: ".*" is not an origin such as https:\/\/example\.com$/, `${name}: one line naming the variable`)
  }
  t.match(refusal({ SELF_ORIGINS: 'https://ok.example,ftp://bad.example' })?.message, /"ftp:\/\/bad\.example"/, 'the bad origin is named')
})
