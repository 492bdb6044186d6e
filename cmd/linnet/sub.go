package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

func init() {
	commands["sub"] = command{"subscribe and print the messages that arrive", runSub}
}

const subUsage = `Usage: linnet sub [flags] -t FILTER [-t FILTER...]

Subscribes to the topic filters and prints each message as it arrives, like
mosquitto_sub: the payload alone (nothing for an empty one), "topic payload"
with -v, the -F format of mosquitto_sub, or one JSON object per line with
--format json:

  {"topic":"a/b","qos":1,"retain":false,"payload":"text"}
  {"topic":"a/b","qos":0,"retain":true,"payload_base64":"AAEC"}

(payload when the payload is valid UTF-8, payload_base64 otherwise). It runs
until -C messages have arrived, -W seconds have passed, or SIGINT/SIGTERM,
and then disconnects cleanly. A signal is a normal way to stop: exit code 0,
even while it is still connecting. When the connection is lost it
reconnects, as mosquitto_sub does, and subscribes again (with -c the broker
keeps the session, and the messages sent meanwhile at QoS 1 and 2);
--no-reconnect exits 1 instead.

-F format (as mosquitto_sub's; see the README for all of it):
  %t topic   %p payload   %x/%X payload in hex   %l payload length
  %q QoS     %r retained (1/0)   %m message id   %% a percent sign
  %I ISO 8601 time   %U Unix time with nanoseconds
  %j JSON: {"tst":...,"topic":...,"qos":...,"retain":...,"payloadlen":...,"payload":"..."}
  %J the same with a payload that is itself JSON
  @Y @m @d @H @M @S... strftime fields, @N nanoseconds, @@ an @
  \n \t \r \e \0 \\ escapes; %-10t, %08l, %.5p: alignment, padding, width, precision
  The MQTT 5 properties (%A %C %D %E %F %P %R %S) are always empty.

Examples:
  linnet sub -t 'sensors/#' -v
  linnet sub -t a/b -C 1 -W 10
  linnet sub -t 'sensors/#' -F '%I %t %p'
  linnet sub -t '#' -F '%j' --pretty
  linnet sub -t 'config/#' --retained-only --remove-retained   # clear retained messages
  linnet sub -L mqtts://127.0.0.1:8883 --cafile ca.pem -t '#' --format json
  linnet sub -i logger -c -q 1 -t 'logs/#'       # persistent session
  linnet sub -i logger -c -U 'logs/#' -E          # drop that subscription from the session

`

func runSub(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("linnet sub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf connFlags
	cf.register(fs)
	var filters, filterOut, unsub stringList
	fs.Var(&filters, "t", "topic `filter` to subscribe to; repeat for more")
	fs.Var(&filterOut, "T", "topic `filter` whose messages are not printed; repeat for more")
	fs.Var(&unsub, "U", "topic `filter` to unsubscribe from after connecting (to change a -c session); repeat for more")
	qos := fs.Int("q", 0, "the QoS to ask for: 0, 1 or 2")
	count := fs.Int("C", 0, "exit after this many messages (0: no limit)")
	limit := fs.Int("W", 0, "exit after this many `seconds` (0: no limit), with exit code 27 as mosquitto_sub")
	exitAfterSub := fs.Bool("E", false, "exit once the broker has acknowledged the subscriptions")
	verbose := fs.Bool("v", false, "print the topic before the payload")
	noEOL := fs.Bool("N", false, "do not print an end of line after each message")
	noRetained := fs.Bool("R", false, "do not print retained messages (those the broker stored earlier)")
	retainedOnly := fs.Bool("retained-only", false, "print only retained messages, and exit at the first that is not")
	removeRetained := fs.Bool("remove-retained", false, "clear each retained message received (publish an empty retained message, QoS 1);\n"+
		"-T keeps some")
	format := fs.String("F", "", "output `format`, as mosquitto_sub's -F (see above)")
	outFormat := fs.String("format", "text", "output `kind`: text or json (one object per line)")
	pretty := fs.Bool("pretty", false, "indent the JSON of --format json and of -F %j and %J")
	noReconnect := fs.Bool("no-reconnect", false, "exit 1 when the connection is lost instead of reconnecting")
	fs.Usage = usageWithExitCodes(fs, stderr, subUsage)
	if code, ok := parseNoArgs(fs, args, stderr); !ok {
		return code
	}
	errOut := stderr
	if cf.quiet {
		errOut = io.Discard
	}
	opts, uriTopic, err := cf.options(stderr)
	if err != nil {
		return failure(errOut, "sub", err)
	}
	if len(filters) == 0 && uriTopic != "" {
		filters = stringList{uriTopic}
	}
	if len(filters) == 0 && len(unsub) == 0 {
		fmt.Fprintln(errOut, "linnet sub: no topic filter: give -t FILTER")
		return exitUsage
	}
	q, err := parseQoS("-q", *qos)
	if err != nil {
		return failure(errOut, "sub", err)
	}
	subs := make([]client.Subscription, len(filters))
	for i, f := range filters {
		if err := packet.ValidateTopicFilter(f); err != nil {
			return failure(errOut, "sub", usagef("-t %q: %v", f, err))
		}
		subs[i] = client.Subscription{Filter: f, QoS: q}
	}
	for _, list := range []struct {
		name    string
		filters stringList
	}{{"-T", filterOut}, {"-U", unsub}} {
		for _, f := range list.filters {
			if err := packet.ValidateTopicFilter(f); err != nil {
				return failure(errOut, "sub", usagef("%s %q: %v", list.name, f, err))
			}
		}
	}
	var ops []fmtOp
	switch {
	case *count < 0 || *limit < 0:
		return failure(errOut, "sub", usagef("-C and -W must not be negative"))
	case *outFormat != "text" && *outFormat != "json":
		return failure(errOut, "sub", usagef("--format %q: text or json", *outFormat))
	case *format != "" && *outFormat != "text":
		return failure(errOut, "sub", usagef("give -F or --format json, not both"))
	case *noRetained && *retainedOnly:
		return failure(errOut, "sub", usagef("-R and --retained-only together print nothing"))
	case *format != "":
		if ops, err = compileFormat(*format); err != nil {
			return failure(errOut, "sub", usagef("-F: %v", err))
		}
	}

	out := &printer{w: bufio.NewWriter(stdout), errOut: errOut, verbose: *verbose, json: *outFormat == "json",
		pretty: *pretty, format: ops, eol: !*noEOL, noRetained: *noRetained, retainedOnly: *retainedOnly,
		filterOut: filterOut, max: *count, done: make(chan struct{}), now: time.Now}
	lost := make(chan error, 1)
	opts.AutoReconnect = !*noReconnect
	opts.OnConnectionLost = func(err error) {
		if opts.AutoReconnect {
			fmt.Fprintf(errOut, "linnet sub: %s; reconnecting\n", oneLine(describeErrFor("sub", err)))
			return
		}
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
		return failure(errOut, "sub", err)
	}
	defer c.Close()
	defer out.stop()
	var clearing sync.WaitGroup
	if *removeRetained {
		out.removeRetained = func(topic string) {
			clearing.Add(1)
			tok := c.PublishAsync(topic, packet.QoS1, true, nil)
			go func() { defer clearing.Done(); <-tok.Done() }()
		}
	}
	if err := c.Connect(connectCtx); err != nil {
		if ctx.Err() != nil {
			return exitOK // SIGINT or SIGTERM while connecting: stop, as asked
		}
		return failure(errOut, "sub", withCause(connectCtx, err))
	}
	if code, done := subscribe(connectCtx, ctx, c, out, subs, unsub, errOut); done {
		return code
	}

	code := exitOK
	if !*exitAfterSub {
		select {
		case <-out.done: // -C messages printed, or --retained-only saw a new message
		case <-ctx.Done(): // SIGINT or SIGTERM: a normal way to stop
		case <-deadline:
			code = failure(errOut, "sub", fmt.Errorf("%w: -W %d passed (%d messages printed)", errTimeLimit, *limit, out.printed()))
		case err := <-lost:
			out.stop()
			return failure(errOut, "sub", err)
		}
	}
	out.stop()
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	clearing.Wait()
	if err := c.Disconnect(dctx); err != nil && code == exitOK {
		return failure(errOut, "sub", err)
	}
	if out.err != nil && code == exitOK {
		return failure(errOut, "sub", fmt.Errorf("writing the output: %w", out.err))
	}
	return code
}

// subscribe makes the subscriptions and the -U unsubscriptions. done is
// true when sub must exit with code.
func subscribe(connectCtx, ctx context.Context, c *client.Client, out *printer, subs []client.Subscription,
	unsub []string, errOut io.Writer) (code int, done bool) {
	fail := func(err error) (int, bool) {
		if ctx.Err() != nil {
			return exitOK, true
		}
		return failure(errOut, "sub", withCause(connectCtx, err)), true
	}
	if len(subs) > 0 {
		codes, err := c.Subscribe(connectCtx, out.handle, subs...)
		if err != nil {
			return fail(err)
		}
		for i, code := range codes {
			if code == packet.SubackFailure {
				return failure(errOut, "sub", &subackError{filter: subs[i].Filter}), true
			}
		}
	}
	if len(unsub) > 0 {
		if err := c.Unsubscribe(connectCtx, unsub...); err != nil && !errors.Is(err, context.Canceled) {
			return fail(err)
		}
	}
	return exitOK, false
}
