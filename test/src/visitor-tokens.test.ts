import t from 'tap'
import { tokenId, VisitorTokens } from '../../src/visitor-tokens.js'

const SECRET = 'a-test-secret-that-is-long-enough-to-pass'
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

t.test('a token holds a new 128-bit id, and the key that made it reads the id back', async (t) => {
  const tokens = new VisitorTokens(SECRET)
  const { id, token } = tokens.issue()
  t.match(token, /^[A-Za-z0-9_-]{44}$/)
  t.equal(tokenId(token), id, 'the id is the token\'s first half')
  t.equal(Buffer.from(id, 'base64url').length, 16)
  t.equal(tokens.idIn(token), id)
  t.equal(new VisitorTokens(SECRET).idIn(token), id, 'another process with the same secret reads it too')
})

t.test('ids stay distinct and readable past a batch of tokens', async (t) => {
  const tokens = new VisitorTokens(SECRET)
  const issued = Array.from({ length: 600 }, () => tokens.issue())
  t.equal(new Set(issued.map(({ id }) => id)).size, 600, 'no id comes twice')
  t.ok(issued.every(({ id, token }) => tokens.idIn(token) === id), 'every token, of three batches, reads back')
})

t.test('a token is refused when it was not made with this key as it is', async (t) => {
  const tokens = new VisitorTokens(SECRET)
  const { id, token } = tokens.issue()
  const tag = token.slice(id.length)
  const changed = (text: string, at: number): string => `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`
  t.equal(new VisitorTokens('another-secret-that-is-long-enough-too').idIn(token), null, 'another secret')
  t.equal(tokens.idIn(`${changed(id, 3)}${tag}`), null, 'an id of one\'s choosing with a tag that was not made for it')
  t.equal(tokens.idIn(`${id}${changed(tag, 3)}`), null, 'a changed tag')
  t.equal(tokens.idIn(id), null, 'the id alone')
  t.equal(tokens.idIn(`${token}A`), null, 'too long')
  t.equal(tokens.idIn(`${token.slice(0, 43)}=`), null, 'not base64url')
  // The id's last character carries 2 bits and 4 spare ones: flipping a spare one spells the same bytes.
  const last = BASE64URL.indexOf(id[21] as string)
  const respelled = `${id.slice(0, 21)}${BASE64URL[last ^ 1] as string}`
  t.same(Buffer.from(respelled, 'base64url'), Buffer.from(id, 'base64url'), 'the same 16 bytes spelled another way')
  t.equal(tokens.idIn(`${respelled}${tag}`), null, 'are refused: that spelling would be another visitor')
})
