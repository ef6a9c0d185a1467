import autocannon, { type Request } from 'autocannon'

export interface LoadResult {
  /** Wall-clock length of the run. */
  seconds: number
  /** 2xx answers: the views served. */
  views: number
  /** Anything else: non-2xx answers, errors and timeouts. */
  failures: number
  /** Latency of every 2xx answer in ms, sorted. */
  latenciesMs: Float64Array
}

let running: autocannon.Instance | undefined

/** Stops the run in progress, if any: for Ctrl-C. */
export function stopLoad (): void {
  running?.stop()
}

/**
 * Drives `origin` for `seconds` with one connection per entry of `traffic`, each cycling
 * through its own requests. Latencies are taken from each answer at full precision
 * (autocannon's own histogram has whole milliseconds only).
 */
export async function drive (origin: string, traffic: Request[][], seconds: number): Promise<LoadResult> {
  return await run(origin, traffic, { duration: seconds })
}

/**
 * Sends exactly `views` requests, as `drive` does: as fast as the server answers, or at
 * `perSecond` over all connections (autocannon's overallRate) to see the server below saturation.
 */
export async function driveViews (origin: string, traffic: Request[][], views: number, perSecond?: number): Promise<LoadResult> {
  return await run(origin, traffic, perSecond === undefined ? { amount: views } : { amount: views, overallRate: perSecond })
}

async function run (origin: string, traffic: Request[][], limits: Pick<autocannon.Options, 'duration' | 'amount' | 'overallRate'>): Promise<LoadResult> {
  const latencies: number[] = []
  let nextConnection = 0
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: origin,
      connections: traffic.length,
      ...limits,
      setupClient: (client) => { client.setRequests(traffic[nextConnection++] as Request[]) }
    }, (error: Error | null, result) => { if (error === null) resolve(result); else reject(error) })
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime)
    })
    running = instance
  }).finally(() => { running = undefined })
  return {
    seconds: result.duration,
    views: result['2xx'],
    failures: result.non2xx + result.errors,
    latenciesMs: Float64Array.from(latencies).sort()
  }
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile (sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number
}
