/**
 * CSV as RFC 4180 writes it, safe to open in a spreadsheet: the exports of /stats and
 * /visitors are made with these, and any table of numbers or visits can be.
 */

/** What a CSV field holds: text as it is, numbers and booleans as JavaScript writes them. */
export type CsvValue = string | number | boolean

/** An answer's type: RFC 4180's, saying the first record is a header (RFC 4180 section 3). */
export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8; header=present'

/**
 * Spreadsheets run a cell that begins with one of these as a formula (OWASP, "CSV Injection"):
 * a visitor's user agent of `=HYPERLINK(...)` must not become a link in the reader's sheet.
 */
const FORMULA_START = /^[=+\-@\t\r]/
/** A field holding one of these is quoted (RFC 4180 section 2, rules 6 and 7). */
const NEEDS_QUOTES = /[",\r\n]/

/** One field: text that could start a formula gets a leading `'`, then quotes where needed. */
export function csvField (value: CsvValue): string {
  // Numbers and booleans carry no formula; only text is guarded, so -1 stays a number.
  if (typeof value !== 'string') return String(value)
  const text = FORMULA_START.test(value) ? `'${value}` : value
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** One record, ended by CRLF as RFC 4180 ends every line. */
export function csvRow (values: readonly CsvValue[]): string {
  return `${values.map(csvField).join(',')}\r\n`
}

/** A whole table: the header row, then a record per row. */
export function csvTable (header: readonly string[], rows: Iterable<readonly CsvValue[]>): string {
  let table = csvRow(header)
  for (const row of rows) table += csvRow(row)
  return table
}
