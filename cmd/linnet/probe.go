package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
)

func init() {
	commands["probe"] = command{"check by RRPC whether devices are online", runProbe}
}

// exitOffline: probe ran, and at least one device is offline.
const exitOffline = 6

const probeUsage = `Usage: linnet probe [flags] PRODUCTKEY/DEVICENAME...

Checks whether devices are online by RRPC, as the DMS server does: it sends
{"id":"<id>","version":"1.0","time":<ms>} to /sys/<pk>/<dn>/rrpc/request/<id>
and waits -timeout for the same body on /sys/<pk>/<dn>/rrpc/response/<id>.
Under the policy, a device is offline after 1 (strict), 2 (normal) or 3
(loose) failed probes in a row. It prints one line per device: the verdict,
the round trip of the probe that answered, the probes sent and the last error.

Examples:
  linnet probe -L tcp://127.0.0.1:1883 pk/dev-42
  linnet probe -L ssl://dms.example:8883 --cafile ca.pem -policy strict pk/dev-1 pk/dev-2 pk/dev-3
  linnet probe -h 127.0.0.1 -policy loose -timeout 2s --format json pk/dev-42

Exit codes:
  0  every device is online
  1  failed: broker unreachable, DNS, TLS, timeout
  2  bad flags or arguments
  4  refused by the broker
  6  at least one device is offline

Flags:
`

type probeLine struct {
	Device   string   `json:"device"`
	Online   bool     `json:"online"`
	RTTMs    float64  `json:"rtt_ms,omitempty"`
	Attempts int      `json:"attempts"`
	Errors   []string `json:"errors,omitempty"`
}

func runProbe(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("linnet probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf connFlags
	cf.register(fs)
	policyName := fs.String("policy", "normal", "strict (1 failure), normal (2), loose (3), or a number of failures in a row")
	timeout := fs.Duration("timeout", dms.DefaultProbeTimeout, "how long one probe waits for its reply")
	concurrency := fs.Int("concurrency", dms.DefaultProbeConcurrency, "devices probed at the same time")
	format := fs.String("format", "text", "output `format`: text or json (one object per line)")
	fs.Usage = func() { fmt.Fprint(stderr, probeUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	var policy dms.Policy
	switch *policyName {
	case "strict":
		policy = dms.PolicyStrict
	case "normal":
		policy = dms.PolicyNormal
	case "loose":
		policy = dms.PolicyLoose
	default:
		n, err := strconv.Atoi(*policyName)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "linnet probe: -policy %q: strict, normal, loose or a positive number\n", *policyName)
			return exitUsage
		}
		policy = dms.Policy(n)
	}
	if *timeout <= 0 || *concurrency < 1 {
		fmt.Fprintln(stderr, "linnet probe: -timeout and -concurrency must be positive")
		return exitUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "linnet probe: --format %q: text or json\n", *format)
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "linnet probe: name at least one device as PRODUCTKEY/DEVICENAME")
		return exitUsage
	}
	devices := make([]dms.Device, fs.NArg())
	for i, arg := range fs.Args() {
		pk, dn, ok := strings.Cut(arg, "/")
		if !ok || pk == "" || dn == "" || strings.ContainsAny(arg[len(pk)+1:], "/+#") || strings.ContainsAny(pk, "+#") {
			fmt.Fprintf(stderr, "linnet probe: %q: a device is PRODUCTKEY/DEVICENAME, without / + or # inside the names\n", arg)
			return exitUsage
		}
		devices[i] = dms.Device{ProductKey: pk, DeviceName: dn}
	}
	opts, _, err := cf.options(stderr)
	if err != nil {
		return failure(stderr, "probe", err)
	}

	ctx, cancel := signalContext()
	defer cancel()
	c, err := client.New(opts)
	if err != nil {
		return failure(stderr, "probe", err)
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		return failure(stderr, "probe", withCause(ctx, err))
	}
	p, err := dms.NewProber(ctx, c, dms.ProberConfig{Timeout: *timeout, Policy: policy, Concurrency: *concurrency,
		Logger: libLogger(cf.logger)})
	if err != nil {
		return failure(stderr, "probe", err)
	}
	verdicts := p.CheckAll(ctx, devices)
	if ctx.Err() != nil {
		return failure(stderr, "probe", ctx.Err())
	}
	code := exitOK
	width := 0
	for _, d := range devices {
		width = max(width, len(d.String()))
	}
	for _, v := range verdicts {
		line := probeLine{Device: v.Device.String(), Online: v.Online, Attempts: v.Attempts}
		if v.Online {
			line.RTTMs = float64(v.RTT.Microseconds()) / 1e3
		} else {
			code = exitOffline
		}
		for _, e := range v.Errs {
			line.Errors = append(line.Errors, probeErrText(e))
		}
		if *format == "json" {
			b, _ := json.Marshal(line)
			fmt.Fprintf(stdout, "%s\n", b)
			continue
		}
		if v.Online {
			fmt.Fprintf(stdout, "%-*s  online   rtt %-10v probes %d (policy %s)\n", width, line.Device,
				v.RTT.Round(10*time.Microsecond), v.Attempts, policy)
		} else {
			last := ""
			if n := len(line.Errors); n > 0 {
				last = ": " + line.Errors[n-1]
			}
			fmt.Fprintf(stdout, "%-*s  OFFLINE  after %d failed probe(s) (policy %s)%s\n", width, line.Device,
				v.Attempts, policy, last)
		}
	}
	closeCtx, closeCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer closeCancel()
	_ = p.Close(closeCtx)
	if err := c.Disconnect(closeCtx); err != nil && code == exitOK {
		return failure(stderr, "probe", err)
	}
	return code
}

// probeErrText says why one probe failed, without the package prefix.
func probeErrText(err error) string {
	var pe *dms.ProbeError
	if errors.As(err, &pe) {
		return strings.TrimPrefix(pe.Err.Error(), "dms: ")
	}
	return strings.TrimPrefix(err.Error(), "dms: ")
}
