package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/linnet-mqtt/linnet/internal/brokercheck"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

func init() {
	commands["conformance"] = command{"check a broker against the normative statements of MQTT 3.1.1", runConformance}
}

const conformanceUsage = `Usage: linnet conformance [flags] BROKER-URI

Runs checks of the broker at BROKER-URI (tcp://, ssl://, ws://, wss://,
unix://...) against MQTT 3.1.1 over real connections: publish and subscribe
at each QoS, retained messages, persistent sessions, keep-alive and will,
redelivery, $ topics, and malformed input the broker must refuse. Each
check is named after the normative statements it exercises; a failure
shows the rule it breaks and every packet sent and received, in hex.

Every check ends within its time limit (-timeout); one that runs out
before the broker has shown a verdict reports "timeout" with the packets
so far. A failure is always shown by packets, never by the clock alone.
Checks whose PAHO SCENARIO column is set follow the ten scenarios of the
Eclipse Paho interoperability suite, with its verdicts. -list also shows,
for every statement that binds the server, the checks that name it or
why none does.

Every client id and topic starts with -prefix, so runs do not collide.

Examples:
  linnet conformance tcp://127.0.0.1:1883
  linnet conformance -run 'retained|MQTT-3.3.1' tcp://127.0.0.1:1883
  linnet conformance -refused-filter 'forbidden/#' --junit report.xml tcp://127.0.0.1:1883
  linnet conformance --format json -cafile ca.pem ssl://127.0.0.1:8883

Exit codes:
  0  every check passed or was skipped
  1  the broker could not be reached, or a report could not be written
  2  bad flags or arguments
  3  at least one check failed or timed out

Flags:
`

func runConformance(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("linnet conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		run       = fs.String("run", "", "run only checks whose name or statement id matches this `regexp`")
		list      = fs.Bool("list", false, "list the checks and exit")
		timeout   = fs.Duration("timeout", brokercheck.DefaultTimeout, "time limit of each check (the keep-alive checks get 1.5 x keep-alive and -keepalive-slack more)")
		slack     = fs.Duration("keepalive-slack", brokercheck.DefaultKeepAliveSlack, "how long past 1.5 x keep-alive a broker may take to cut a silent client")
		keepAlive = fs.Int("keepalive", brokercheck.DefaultKeepAlive, "keep-alive in `seconds` of the keep-alive check")
		parallel  = fs.Int("parallel", brokercheck.DefaultParallel, "checks run at once")
		prefix    = fs.String("prefix", "", "start of every client id and topic, letters and digits (default: random)")
		refused   = fs.String("refused-filter", "", "a topic `filter` the broker is configured to refuse (SUBACK 0x80); without it that check is skipped")
		user      = fs.String("u", "", "user `name`")
		pass      = fs.String("P", "", "`password` (needs -u)")
		format    = fs.String("format", "table", "output `format`: table or json")
		junit     = fs.String("junit", "", "also write JUnit XML to this `file`")
		tlsFlags  connFlags
	)
	tlsFlags.registerTLS(fs)
	fs.Usage = func() { fmt.Fprint(stderr, conformanceUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	checks, err := brokercheck.Select(brokercheck.Checks(), *run)
	if err != nil {
		fmt.Fprintf(stderr, "linnet conformance: %v\n", err)
		return exitUsage
	}
	if *list {
		writeList(stdout, checks, *run == "")
		return exitOK
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "linnet conformance: give one BROKER-URI")
		fs.Usage()
		return exitUsage
	}
	if len(checks) == 0 {
		fmt.Fprintf(stderr, "linnet conformance: -run %q matches no check (see -list)\n", *run)
		return exitUsage
	}
	uri := fs.Arg(0)
	if err := transport.Validate(uri); err != nil {
		fmt.Fprintf(stderr, "linnet conformance: %v\n", err)
		return exitUsage
	}
	switch *format {
	case "table", "json":
	default:
		fmt.Fprintf(stderr, "linnet conformance: --format %q: table or json\n", *format)
		return exitUsage
	}
	if *pass != "" && *user == "" {
		fmt.Fprintln(stderr, "linnet conformance: a password (-P) needs a user name (-u)")
		return exitUsage
	}
	if *keepAlive < 1 || *keepAlive > 65535 {
		fmt.Fprintf(stderr, "linnet conformance: -keepalive %d: 1 to 65535 seconds\n", *keepAlive)
		return exitUsage
	}
	if *timeout <= 0 || *parallel < 1 || *slack <= 0 {
		fmt.Fprintln(stderr, "linnet conformance: -timeout, -keepalive-slack and -parallel must be positive")
		return exitUsage
	}
	cfg := brokercheck.Config{URI: uri, Username: *user, Prefix: *prefix, Timeout: *timeout,
		KeepAlive: uint16(*keepAlive), KeepAliveSlack: *slack, RefusedFilter: *refused, Parallel: *parallel}
	if *pass != "" {
		cfg.Password = []byte(*pass)
	}
	if *refused != "" {
		if err := packet.ValidateTopicFilter(*refused); err != nil {
			fmt.Fprintf(stderr, "linnet conformance: -refused-filter: %v\n", err)
			return exitUsage
		}
	}
	if cfg.Transport, err = tlsFlags.appendTLS(cfg.Transport, uri); err != nil {
		fmt.Fprintf(stderr, "linnet conformance: %v\n", err)
		return exitUsage
	}

	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "linnet conformance: %v\n", strings.TrimPrefix(err.Error(), "brokercheck: "))
		return exitUsage
	}

	ctx, stop := signalContext()
	defer stop()
	// One connection first, so that an unreachable broker is one clear
	// error rather than every check failing the same way.
	if err := preflight(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "linnet conformance: %s\n", oneLine(describeErr(err)))
		return exitFailure
	}
	results, err := brokercheck.Run(ctx, cfg, checks)
	if err != nil {
		fmt.Fprintf(stderr, "linnet conformance: %v\n", err)
		return exitUsage
	}
	if *format == "json" {
		err = brokercheck.WriteJSON(stdout, uri, results)
	} else {
		fmt.Fprintf(stdout, "linnet conformance %s\n\n", uri)
		err = brokercheck.WriteTable(stdout, results)
	}
	if err != nil {
		fmt.Fprintf(stderr, "linnet conformance: %v\n", err)
		return exitFailure
	}
	if *junit != "" {
		if err := writeJUnitFile(*junit, uri, results); err != nil {
			fmt.Fprintf(stderr, "linnet conformance: --junit: %v\n", err)
			return exitFailure
		}
	}
	if ctx.Err() != nil {
		return exitFailure
	}
	if !brokercheck.Summarize(results).OK() {
		return exitInvalid
	}
	return exitOK
}

// writeList prints the checks and, with all set, every statement that
// binds the server with the checks that name it or why none does.
func writeList(w io.Writer, checks []brokercheck.Check, all bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tPAHO SCENARIO\tSTATEMENTS\tWHAT IT DOES")
	for _, c := range checks {
		scenario := c.Scenario
		if scenario == "" {
			scenario = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, scenario, strings.Join(c.Rules, " "), c.Summary)
	}
	_ = tw.Flush()
	if !all {
		return
	}
	fmt.Fprintln(w, "\nStatements that bind the server (and any other a check names), with the checks that name them:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, cv := range brokercheck.Statements(checks) {
		switch {
		case len(cv.Checks) > 0:
			fmt.Fprintf(tw, "%s\t%s\n", cv.ID, strings.Join(cv.Checks, " "))
		case cv.Unobservable != "":
			fmt.Fprintf(tw, "%s\tnot observable by a client: %s\n", cv.ID, cv.Unobservable)
		default:
			fmt.Fprintf(tw, "%s\tnot checked yet: %s\n", cv.ID, cv.NotChecked)
		}
	}
	_ = tw.Flush()
}

func writeJUnitFile(path, uri string, results []brokercheck.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := brokercheck.WriteJUnit(f, uri, results); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// errNoConnack is a broker that did not accept an ordinary CONNECT.
var errNoConnack = errors.New("the broker did not accept an ordinary CONNECT")

// preflight connects once with an ordinary CONNECT.
func preflight(ctx context.Context, cfg brokercheck.Config) error {
	ctx, cancel := context.WithTimeout(ctx, max(cfg.Timeout, time.Second))
	defer cancel()
	nc, err := transport.Dial(ctx, cfg.URI, cfg.Transport...)
	if err != nil {
		return err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	p := &packet.Connect{ClientID: "lntpreflight" + fmt.Sprint(time.Now().UnixNano()%1e6), CleanSession: true, KeepAlive: 30}
	if cfg.Username != "" {
		p.UsernameFlag, p.Username = true, cfg.Username
		if cfg.Password != nil {
			p.PasswordFlag, p.Password = true, cfg.Password
		}
	}
	w := packet.NewWriter(nc)
	if err := w.WritePacket(p); err != nil {
		return err
	}
	ack, err := packet.NewReader(nc).ReadPacket()
	if err != nil {
		return fmt.Errorf("%w: %w", errNoConnack, err)
	}
	if a, ok := ack.(*packet.Connack); !ok || a.ReturnCode != packet.Accepted {
		return fmt.Errorf("%w: it answered %v", errNoConnack, ack)
	}
	_ = w.WritePacket(&packet.Disconnect{})
	return nil
}
