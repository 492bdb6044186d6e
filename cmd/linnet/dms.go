package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/transport"
)

func init() {
	commands["dms"] = command{"run the DMS device agent: redirect, join-network, DMS server, heartbeats, RRPC", runDMS}
}

const dmsUsage = `Usage: linnet dms [flags]

Runs the DMS device agent: it connects to the redirect server as the device
(client id = user name = device id, password = MD5 scheme unless -password),
waits for the join-network message naming the DMS server, moves there and sends
heartbeats; with -rrpc-product-key it answers RRPC requests. It prints every
state transition, every heartbeat, every control message and every warning of
the agent (a join-network message it cannot read...) as one line, and stops
cleanly (DISCONNECT at once, a heartbeat in flight withdrawn) on SIGINT or
SIGTERM, or after -W.

A DMS server without TLS named by a redirect server reached over TLS is
refused unless -allow-insecure-dms is given.

Settings come from flags, or from a JSON file given with -config; a flag given
on the command line overrides the file. The file:

  {
    "deviceId": "dev-42",
    "redirectServer": "ssl://redirect.example:8883",
    "defaultDmsServer": "ssl://dms.example:8883",
    "password": "",
    "heartbeatInterval": "30s",
    "joinNetworkWait": "30s",
    "keepAlive": "60s",
    "connectTimeout": "30s",
    "subscribeTimeout": "10s",
    "allowInsecureDms": false,
    "rrpc": {"productKey": "pk", "deviceName": "dev-42"},
    "topics": {"verifyPassword": "/elogger/{id}/verify_pwd", "joinNetwork": "/elogger/{id}/join_network",
               "controlDevice": "/elogger/{id}/ctrlDevice", "heartbeat": "/monitor/report/Sync_MainDeviceInfo"},
    "tls": {"cafile": "ca.pem", "cert": "", "key": "", "insecure": false}
  }

Examples:
  linnet dms -id dev-42 -redirect ssl://redirect.example:8883 -cafile ca.pem
  linnet dms -config device.json
  linnet dms -config device.json -heartbeat 5s -W 60
  linnet dms -id dev-42 -redirect tcp://127.0.0.1:1883 -dms tcp://127.0.0.1:1884 -rrpc-product-key pk

Exit codes:
  0  stopped by a signal or -W
  1  gave up after -give-up failed attempts in a row (network, TLS, no join-network)
  2  bad flags, configuration file or settings
  4  gave up, and the last attempt was refused by a broker (password, not authorised)

Flags:
`

// dmsFile is the JSON configuration file of linnet dms.
type dmsFile struct {
	DeviceID          string       `json:"deviceId"`
	RedirectServer    string       `json:"redirectServer"`
	DefaultDMSServer  string       `json:"defaultDmsServer"`
	Password          string       `json:"password"`
	HeartbeatInterval jsonDuration `json:"heartbeatInterval"`
	JoinNetworkWait   jsonDuration `json:"joinNetworkWait"`
	KeepAlive         jsonDuration `json:"keepAlive"`
	ConnectTimeout    jsonDuration `json:"connectTimeout"`
	SubscribeTimeout  jsonDuration `json:"subscribeTimeout"`
	AllowInsecureDMS  bool         `json:"allowInsecureDms"`
	RRPC              *struct {
		ProductKey string `json:"productKey"`
		DeviceName string `json:"deviceName"`
	} `json:"rrpc"`
	Topics struct {
		VerifyPassword string `json:"verifyPassword"`
		JoinNetwork    string `json:"joinNetwork"`
		ControlDevice  string `json:"controlDevice"`
		Heartbeat      string `json:"heartbeat"`
	} `json:"topics"`
	TLS struct {
		CAFile   string `json:"cafile"`
		Cert     string `json:"cert"`
		Key      string `json:"key"`
		Insecure bool   `json:"insecure"`
	} `json:"tls"`
}

// jsonDuration is a duration written as "30s" in JSON.
type jsonDuration time.Duration

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = jsonDuration(v)
	return nil
}

func runDMS(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("linnet dms", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f dmsFile
	configPath := fs.String("config", "", "JSON configuration `file` (flags given override it)")
	fs.StringVar(&f.DeviceID, "id", "", "device `id`: the client id, user name and {id} of the topics")
	fs.StringVar(&f.RedirectServer, "redirect", "", "`URI` of the redirect server")
	fs.StringVar(&f.DefaultDMSServer, "dms", "", "`URI` of the DMS server to use when no join-network message comes")
	fs.StringVar(&f.Password, "password", "", "a fixed `password` instead of the MD5 scheme")
	hb := fs.Duration("heartbeat", dms.DefaultHeartbeatInterval, "heartbeat interval")
	join := fs.Duration("join-wait", dms.DefaultJoinNetworkWait, "how long to wait for the join-network message")
	ka := new(time.Duration)
	*ka = dms.DefaultKeepAlive
	// -k as in pub and sub: seconds (60) or a duration (60s); -keepalive
	// is the same flag under its older name.
	fs.Var(secondsFlag{ka}, "k", "MQTT keep-alive of both connections, in `seconds` (or a duration: 90s)")
	fs.Var(secondsFlag{ka}, "keepalive", "the same as -k")
	ct := fs.Duration("connect-timeout", dms.DefaultConnectTimeout, "how long one connect may take")
	st := fs.Duration("subscribe-timeout", dms.DefaultSubscribeTimeout, "how long to wait for a SUBACK")
	fs.BoolVar(&f.AllowInsecureDMS, "allow-insecure-dms", false, "follow a join-network message to a DMS server without TLS after a TLS redirect server")
	rrpcPK := fs.String("rrpc-product-key", "", "answer RRPC requests as device `productKey`/<id>")
	fs.StringVar(&f.TLS.CAFile, "cafile", "", "PEM `file` of the CA of the servers")
	fs.StringVar(&f.TLS.Cert, "cert", "", "PEM `file` of the client certificate")
	fs.StringVar(&f.TLS.Key, "key", "", "PEM `file` of the client key")
	fs.BoolVar(&f.TLS.Insecure, "insecure", false, "do not check that a server's certificate names its host")
	limit := fs.Int("W", 0, "stop after this many `seconds` (0: run until a signal)")
	giveUp := fs.Int("give-up", 0, "exit after this many failed attempts in a row (0: retry for ever)")
	debug := fs.Bool("d", false, "print the agent's and the client's debug log to standard error")
	fs.Usage = func() { fmt.Fprint(stderr, dmsUsage); fs.PrintDefaults() }
	if code, ok := parseNoArgs(fs, args, stderr); !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if *configPath != "" {
		fromFile, err := readDMSFile(*configPath)
		if err != nil {
			return failure(stderr, "dms", err)
		}
		f = mergeDMS(fromFile, f, set)
	}
	if set["heartbeat"] || f.HeartbeatInterval == 0 {
		f.HeartbeatInterval = jsonDuration(*hb)
	}
	if set["join-wait"] || f.JoinNetworkWait == 0 {
		f.JoinNetworkWait = jsonDuration(*join)
	}
	if set["k"] || set["keepalive"] || f.KeepAlive == 0 {
		f.KeepAlive = jsonDuration(*ka)
	}
	if set["connect-timeout"] || f.ConnectTimeout == 0 {
		f.ConnectTimeout = jsonDuration(*ct)
	}
	if set["subscribe-timeout"] || f.SubscribeTimeout == 0 {
		f.SubscribeTimeout = jsonDuration(*st)
	}
	if *rrpcPK != "" {
		f.RRPC = &struct {
			ProductKey string `json:"productKey"`
			DeviceName string `json:"deviceName"`
		}{*rrpcPK, f.DeviceID}
	}
	if *limit < 0 || *giveUp < 0 {
		fmt.Fprintln(stderr, "linnet dms: -W and -give-up must not be negative")
		return exitUsage
	}

	out := &linePrinter{w: stdout, start: time.Now()}
	logger := slog.New(&warnPrinter{out: out})
	if *debug {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg, err := f.config(logger, *debug)
	if err != nil {
		return failure(stderr, "dms", err)
	}
	var beats int
	cfg.Status = func(ctx context.Context) ([]byte, error) {
		beats++ // on the agent's goroutine only
		body, _ := json.Marshal(map[string]any{"deviceId": f.DeviceID, "time": time.Now().UnixMilli(), "seq": beats})
		out.printf("heartbeat %d -> %s %s", beats, cfg.Topics.For(f.DeviceID).Heartbeat, body)
		return body, nil
	}
	cfg.OnControlDevice = func(topic string, payload []byte) { out.printf("control   %s %s", topic, payload) }
	cfg.OnVerifyPassword = func(topic string, payload []byte) { out.printf("verify    %s %s", topic, payload) }

	failed := make(chan error, 1)
	var streak int
	cfg.OnTransition = func(tr dms.Transition) {
		out.printf("state     %s", oneLine(tr.String()))
		switch tr.Event.Kind {
		case dms.EventConnectionFailed, dms.EventHeartbeatFailed:
			streak++
			if *giveUp > 0 && streak >= *giveUp {
				select {
				case failed <- tr.Event.Err:
				default:
				}
			}
		case dms.EventDMSConnected:
			streak = 0
		}
	}
	agent, err := dms.NewAgent(cfg)
	if err != nil {
		return failure(stderr, "dms", usagef("%v", strings.TrimPrefix(err.Error(), "dms: ")))
	}
	ctx, cancel := signalContext()
	defer cancel()
	deadline, stopDeadline := timeLimit(*limit)
	defer stopDeadline()
	if err := agent.Start(); err != nil {
		return failure(stderr, "dms", err)
	}
	code := exitOK
	var cause error
	select {
	case <-ctx.Done():
	case <-deadline:
	case cause = <-failed:
	}
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopCancel()
	if err := agent.Stop(stopCtx); err != nil {
		return failure(stderr, "dms", fmt.Errorf("stopping the agent: %w", err))
	}
	if cause != nil {
		what := describeErr(cause)
		var pe *dms.PhaseError
		if errors.As(cause, &pe) {
			what = string(pe.Phase) + " phase: " + describeErr(pe.Err)
			if pe.Server != "" && !strings.Contains(what, pe.Server) {
				what += at(pe.Server)
			}
		}
		fmt.Fprintf(stderr, "linnet dms: giving up after %d failed attempts in a row: %s\n", *giveUp, oneLine(what))
		code = exitCodeFor(cause)
	}
	return code
}

func readDMSFile(path string) (dmsFile, error) {
	var f dmsFile
	b, err := os.ReadFile(path)
	if err != nil {
		return f, usagef("-config: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, usagef("-config %s: %v", path, err)
	}
	return f, nil
}

// mergeDMS returns the file's settings with the flags given on the command
// line on top.
func mergeDMS(file, flags dmsFile, set map[string]bool) dmsFile {
	pick := func(name string, dst *string, v string) {
		if set[name] {
			*dst = v
		}
	}
	pick("id", &file.DeviceID, flags.DeviceID)
	pick("redirect", &file.RedirectServer, flags.RedirectServer)
	pick("dms", &file.DefaultDMSServer, flags.DefaultDMSServer)
	pick("password", &file.Password, flags.Password)
	pick("cafile", &file.TLS.CAFile, flags.TLS.CAFile)
	pick("cert", &file.TLS.Cert, flags.TLS.Cert)
	pick("key", &file.TLS.Key, flags.TLS.Key)
	if set["insecure"] {
		file.TLS.Insecure = flags.TLS.Insecure
	}
	if set["allow-insecure-dms"] {
		file.AllowInsecureDMS = flags.AllowInsecureDMS
	}
	return file
}

// config turns the settings into the agent's configuration.
func (f *dmsFile) config(logger *slog.Logger, debug bool) (dms.Config, error) {
	if f.DeviceID == "" {
		return dms.Config{}, usagef("no device id: give -id (or deviceId in -config)")
	}
	if f.RedirectServer == "" {
		return dms.Config{}, usagef("no redirect server: give -redirect URI (or redirectServer in -config)")
	}
	cfg := dms.Config{
		DeviceID:          f.DeviceID,
		RedirectServer:    f.RedirectServer,
		DefaultDMSServer:  f.DefaultDMSServer,
		HeartbeatInterval: time.Duration(f.HeartbeatInterval),
		JoinNetworkWait:   time.Duration(f.JoinNetworkWait),
		KeepAlive:         time.Duration(f.KeepAlive),
		ConnectTimeout:    time.Duration(f.ConnectTimeout),
		SubscribeTimeout:  time.Duration(f.SubscribeTimeout),
		AllowInsecureDMS:  f.AllowInsecureDMS,
		Topics: dms.Topics{VerifyPassword: f.Topics.VerifyPassword, JoinNetwork: f.Topics.JoinNetwork,
			ControlDevice: f.Topics.ControlDevice, Heartbeat: f.Topics.Heartbeat},
		Logger: libLogger(logger),
	}
	if f.Password != "" {
		pw := f.Password
		cfg.Password = func(string, time.Time) string { return pw }
	}
	if f.RRPC != nil {
		name := f.RRPC.DeviceName
		if name == "" {
			name = f.DeviceID
		}
		cfg.RRPC = &dms.RRPCConfig{ProductKey: f.RRPC.ProductKey, DeviceName: name}
	}
	t := f.TLS
	if t.CAFile != "" || t.Cert != "" || t.Key != "" || t.Insecure {
		cf := connFlags{cafile: t.CAFile, cert: t.Cert, key: t.Key, insecure: t.Insecure}
		opt, err := cf.tlsOption()
		if err != nil {
			return cfg, err
		}
		cfg.Transport = append(cfg.Transport, opt)
	}
	if debug {
		cfg.Transport = append(cfg.Transport, transport.WithLogger(libLogger(logger)))
	}
	// Retries of the flow: quick at first, as a person watching expects.
	cfg.Backoff = client.Backoff{Min: time.Second, Max: time.Minute}
	return cfg, nil
}

// linePrinter writes whole lines from any goroutine, each stamped with the
// time since the start.
type linePrinter struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (p *linePrinter) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%7.3fs  %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// warnPrinter is the agent's logger without -d: its warnings (a join-network
// message it could not read, a failed heartbeat...) as lines of the output,
// except the state transitions, which are printed already.
type warnPrinter struct {
	out   *linePrinter
	attrs []slog.Attr
}

func (h *warnPrinter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *warnPrinter) WithGroup(string) slog.Handler                { return h }
func (h *warnPrinter) WithAttrs(as []slog.Attr) slog.Handler {
	return &warnPrinter{out: h.out, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *warnPrinter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "dms: state" {
		return nil
	}
	line := strings.TrimPrefix(r.Message, "dms: ")
	add := func(a slog.Attr) bool {
		v := a.Value.Resolve()
		if v.Kind() == slog.KindString {
			line += " " + a.Key + "=" + strconv.Quote(v.String())
		} else {
			line += " " + a.Key + "=" + oneLine(v.String())
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.out.printf("warning   %s", line)
	return nil
}
