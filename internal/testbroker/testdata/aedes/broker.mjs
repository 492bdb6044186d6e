// An aedes broker for Linnet's tests, started by internal/testbroker's
// StartAedes: node broker.mjs <port> [refused filter]
//
// It listens on 127.0.0.1:<port> (0 lets the kernel choose), prints one
// line "aedes <version> listening on 127.0.0.1:<port>" when it accepts
// connections, and exits when its standard input closes or on SIGTERM or
// SIGINT. With a second argument, subscriptions to exactly that filter
// are refused (SUBACK 0x80); every other client, publication and
// subscription is allowed.
import net from 'node:net'
import process from 'node:process'
import { Aedes } from 'aedes'

const [portArg, refused] = process.argv.slice(2)
const port = Number(portArg)
if (portArg === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: node broker.mjs <port> [refused filter]\n')
  process.exit(2)
}

const broker = await Aedes.createBroker({
  authorizeSubscribe (client, sub, callback) {
    callback(null, refused !== undefined && sub.topic === refused ? null : sub)
  }
})
// A client that breaks the protocol is disconnected by aedes; that is what
// the tests look at, so it is not worth a line on stderr.
broker.on('clientError', () => {})
broker.on('connectionError', () => {})

const server = net.createServer(broker.handle)

let stopping = false
function stop (code) {
  if (stopping) return
  stopping = true
  // Connections do not keep the process alive past this point: exit once
  // the broker has closed its clients, or after a second regardless.
  setTimeout(() => process.exit(code), 1000).unref()
  server.close()
  broker.close(() => process.exit(code))
}

server.on('error', (err) => {
  process.stderr.write(`aedes: ${err.message}\n`)
  process.exit(1)
})
server.listen(port, '127.0.0.1', () => {
  const addr = server.address()
  process.stdout.write(`aedes ${broker.version} listening on ${addr.address}:${addr.port}\n`)
})

process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))
process.stdin.on('end', () => stop(0))
process.stdin.on('error', () => stop(0))
process.stdin.resume()
