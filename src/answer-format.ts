/** The formats an endpoint answers in, and the media type each is asked for by in Accept. */
const MEDIA_TYPES = { json: 'application/json', csv: 'text/csv', ndjson: 'application/x-ndjson' } as const

export type AnswerFormat = keyof typeof MEDIA_TYPES

/**
 * The format to answer in: the one `format` names when the query has it, else the one of
 * `offered` that the Accept header ranks highest (RFC 9110 section 12.5.1): by quality, then by
 * how exactly a range names it (`text/csv` over `text/*` over `*\/*`), then by order in
 * `offered`. So a browser's `*\/*` and a request without Accept get the first, JSON.
 */
export function answerFormat<Format extends AnswerFormat> (asked: Format | undefined, accept: string | undefined, offered: readonly [Format, ...Format[]]): Format {
  if (asked !== undefined) return asked
  const ranges = acceptedRanges(accept ?? '')
  let best = { format: offered[0], quality: 0, exactness: -1 }
  for (const format of offered) {
    const [type, subtype] = MEDIA_TYPES[format].split('/') as [string, string]
    // The most exact range naming the type decides its quality.
    const match = ranges
      .filter((range) => (range.type === type || range.type === '*') && (range.subtype === subtype || range.subtype === '*'))
      .map((range) => ({ quality: range.quality, exactness: (range.type === '*' ? 0 : 1) + (range.subtype === '*' ? 0 : 1) }))
      .sort((one, other) => other.exactness - one.exactness)[0]
    if (match === undefined || match.quality === 0) continue
    if (match.quality > best.quality || (match.quality === best.quality && match.exactness > best.exactness)) best = { format, ...match }
  }
  return best.format
}

interface MediaRange {
  type: string
  subtype: string
  quality: number
}

/** `text/csv;q=0.9, *\/*;q=0.1` as its ranges; a quality that is not a number counts as 1. */
function acceptedRanges (accept: string): MediaRange[] {
  return accept.split(',').map((part) => {
    const [range = '', ...parameters] = part.split(';')
    const [type = '', subtype = ''] = range.trim().toLowerCase().split('/')
    const q = parameters.map((parameter) => parameter.trim().toLowerCase()).find((parameter) => parameter.startsWith('q='))
    const quality = Number.parseFloat(q?.slice(2) ?? '1')
    return { type, subtype, quality: Number.isNaN(quality) ? 1 : quality }
  })
}
