import t from 'tap'
import { csvRow, csvTable } from '../../src/csv.js'

t.test('a table is a header row and a record per row, each ended by CRLF', async (t) => {
  t.equal(csvTable(['hour', 'views'], [['00:00', 3], ['01:00', 0]]), 'hour,views\r\n00:00,3\r\n01:00,0\r\n')
  t.equal(csvTable(['hour', 'views'], []), 'hour,views\r\n', 'no rows: the header alone')
})

t.test('numbers and booleans are written as they are; only text is guarded against formulas', async (t) => {
  t.equal(csvRow([-1, 0.5, true, false, '-1', '']), '-1,0.5,true,false,\'-1,\r\n', 'a spreadsheet reads -1 as a number; text "-1" gets its \'')
})

t.test('fields are quoted exactly when RFC 4180 needs it', async (t) => {
  t.equal(csvRow(['plain text', 'a,b', 'say "hi"', 'one\ntwo', 'cr\rhere']), 'plain text,"a,b","say ""hi""","one\ntwo","cr\rhere"\r\n')
  t.equal(csvRow(['=1+2', '+1', '@x', '\tx', '\rx', 'a=b', ' =1']), '\'=1+2,\'+1,\'@x,\'\tx,"\'\rx",a=b, =1\r\n', 'a formula only at the start of a field, where a spreadsheet reads one')
})
