package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

func init() {
	commands["sub"] = command{"subscribe and print the messages that arrive", runSub}
}

const subUsage = `Usage: linnet sub [flags] -t FILTER [-t FILTER...]

Subscribes to the topic filters and prints each message as it arrives, like
mosquitto_sub: the payload alone, "topic payload" with -v, or one JSON object
per line with --format json:

  {"topic":"a/b","qos":1,"retain":false,"payload":"text"}
  {"topic":"a/b","qos":0,"retain":true,"payload_base64":"AAEC"}

(payload when the payload is valid UTF-8, payload_base64 otherwise). It runs
until -C messages have arrived, -W seconds have passed, the connection is
lost, or SIGINT/SIGTERM, and then disconnects cleanly. A signal is a normal
way to stop: exit code 0, even while it is still connecting.

Examples:
  linnet sub -t 'sensors/#' -v
  linnet sub -t a/b -C 1 -W 10
  linnet sub -L mqtts://127.0.0.1:8883 --cafile ca.pem -t '#' --format json
  linnet sub -i logger -c -q 1 -t 'logs/#'       # persistent session

`

func runSub(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("linnet sub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf connFlags
	cf.register(fs)
	var filters stringList
	fs.Var(&filters, "t", "topic `filter` to subscribe to; repeat for more")
	qos := fs.Int("q", 0, "the QoS to ask for: 0, 1 or 2")
	count := fs.Int("C", 0, "exit after this many messages (0: no limit)")
	limit := fs.Int("W", 0, "exit after this many `seconds` (0: no limit); exit code 5 if -C messages had not arrived")
	verbose := fs.Bool("v", false, "print the topic before the payload")
	noRetained := fs.Bool("R", false, "do not print retained messages (those the broker stored earlier)")
	format := fs.String("format", "text", "output `format`: text or json (one object per line)")
	fs.Usage = usageWithExitCodes(fs, stderr, subUsage)
	if code, ok := parseNoArgs(fs, args, stderr); !ok {
		return code
	}
	opts, uriTopic, err := cf.options(stderr)
	if err != nil {
		return failure(stderr, "sub", err)
	}
	if len(filters) == 0 && uriTopic != "" {
		filters = stringList{uriTopic}
	}
	if len(filters) == 0 {
		fmt.Fprintln(stderr, "linnet sub: no topic filter: give -t FILTER")
		return exitUsage
	}
	q, err := parseQoS("-q", *qos)
	if err != nil {
		return failure(stderr, "sub", err)
	}
	subs := make([]client.Subscription, len(filters))
	for i, f := range filters {
		if err := packet.ValidateTopicFilter(f); err != nil {
			return failure(stderr, "sub", usagef("-t %q: %v", f, err))
		}
		subs[i] = client.Subscription{Filter: f, QoS: q}
	}
	if *count < 0 || *limit < 0 {
		fmt.Fprintln(stderr, "linnet sub: -C and -W must not be negative")
		return exitUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "linnet sub: --format %q: text or json\n", *format)
		return exitUsage
	}

	out := &printer{w: bufio.NewWriter(stdout), verbose: *verbose, json: *format == "json",
		noRetained: *noRetained, max: *count, done: make(chan struct{})}
	lost := make(chan error, 1)
	opts.OnConnectionLost = func(err error) {
		select {
		case lost <- err:
		default:
		}
	}
	// The handler is given to Subscribe and also set as the default: with
	// a persistent session the broker may send messages before SUBACK.
	opts.DefaultHandler = out.handle

	ctx, cancel := signalContext()
	defer cancel()
	deadline, stopDeadline := timeLimit(*limit)
	defer stopDeadline()
	connectCtx, stopConnect := context.WithCancel(ctx)
	defer stopConnect()
	if *limit > 0 {
		connectCtx, stopConnect = context.WithTimeoutCause(ctx, time.Duration(*limit)*time.Second,
			fmt.Errorf("%w: -W %d", errTimeLimit, *limit))
		defer stopConnect()
	}

	c, err := client.New(opts)
	if err != nil {
		return failure(stderr, "sub", err)
	}
	defer c.Close()
	defer out.stop()
	if err := c.Connect(connectCtx); err != nil {
		if ctx.Err() != nil {
			return exitOK // SIGINT or SIGTERM while connecting: stop, as asked
		}
		return failure(stderr, "sub", withCause(connectCtx, err))
	}
	codes, err := c.Subscribe(connectCtx, out.handle, subs...)
	if err != nil {
		if ctx.Err() != nil {
			return exitOK
		}
		return failure(stderr, "sub", withCause(connectCtx, err))
	}
	for i, code := range codes {
		if code == packet.SubackFailure {
			return failure(stderr, "sub", &subackError{filter: subs[i].Filter})
		}
	}

	code := exitOK
	select {
	case <-out.done: // -C messages printed
	case <-ctx.Done(): // SIGINT or SIGTERM: a normal way to stop
	case <-deadline:
		if *count > 0 {
			code = failure(stderr, "sub", fmt.Errorf("%w: -W %d passed with %d of -C %d messages",
				errTimeLimit, *limit, out.printed(), *count))
		}
	case err := <-lost:
		out.stop()
		return failure(stderr, "sub", err)
	}
	out.stop()
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	if err := c.Disconnect(dctx); err != nil && code == exitOK {
		return failure(stderr, "sub", err)
	}
	return code
}

// printer writes messages for sub. It runs on the client's dispatcher
// goroutine; stop makes later messages no-ops so that nothing is written
// after runSub returns.
type printer struct {
	w          *bufio.Writer
	verbose    bool
	json       bool
	noRetained bool
	max        int
	done       chan struct{}

	mu      sync.Mutex
	n       int
	stopped bool
	err     error
}

type jsonMessage struct {
	Topic         string  `json:"topic"`
	QoS           byte    `json:"qos"`
	Retain        bool    `json:"retain"`
	Payload       *string `json:"payload,omitempty"`
	PayloadBase64 *string `json:"payload_base64,omitempty"`
}

func (p *printer) handle(m *client.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || (p.noRetained && m.Retain) {
		return
	}
	if p.json {
		jm := jsonMessage{Topic: m.Topic, QoS: byte(m.QoS), Retain: m.Retain}
		if utf8.Valid(m.Payload) {
			s := string(m.Payload)
			jm.Payload = &s
		} else {
			s := base64.StdEncoding.EncodeToString(m.Payload)
			jm.PayloadBase64 = &s
		}
		b, _ := json.Marshal(jm) // strings, a byte and a bool: cannot fail
		p.w.Write(b)
	} else {
		if p.verbose {
			p.w.WriteString(m.Topic)
			p.w.WriteByte(' ')
			if len(m.Payload) == 0 {
				p.w.WriteString("(null)")
			}
		}
		p.w.Write(m.Payload)
	}
	p.w.WriteByte('\n')
	if err := p.w.Flush(); err != nil && p.err == nil {
		p.err = err
	}
	p.n++
	if p.max > 0 && p.n == p.max {
		p.stopped = true
		close(p.done)
	}
}

func (p *printer) printed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *printer) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
}
