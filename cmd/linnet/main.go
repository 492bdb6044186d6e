// Command linnet is the command-line tool of the Linnet MQTT client.
//
// Usage:
//
//	linnet <command> [flags] [arguments]
//
// Commands:
//
//	bench    measure throughput, round-trip latency and idle footprint
//	demo     run the DMS flow end to end on an embedded broker, in a few seconds
//	dms      run the DMS device agent: redirect, join-network, DMS server, heartbeats, RRPC
//	dump     decode MQTT packets from hex or raw bytes and print each one
//	probe    check by RRPC whether devices are online
//	pub      publish a message, a file, standard input or its lines
//	sub      subscribe and print the messages that arrive
//	version  print the version of linnet and of Go
//
// Run `linnet help <command>` or `linnet <command> --help` for the flags and
// examples of a command (in pub, sub, bench and probe, -h is the broker host,
// as in mosquitto_pub).
//
// Exit codes, the same for every command:
//
//	0  done
//	1  failed: I/O, broker unreachable, DNS, TLS, timeout, connection lost
//	2  bad flags or arguments
//	3  the input broke the protocol (dump)
//	4  refused by the broker: CONNACK refusal (credentials, not authorised) or SUBACK failure
//	6  at least one device is offline (probe)
//	27 the -W time limit ran out (pub, sub), as mosquitto_sub exits
//
// pub, sub, bench, dms and demo use only the public API of the client, dms
// and transport packages; bench without a broker URI and demo run mochi-mqtt
// in process on 127.0.0.1 (internal/embedbroker).
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// Exit codes a script can rely on.
const (
	exitOK      = 0 // the command did what it was asked
	exitFailure = 1 // it could not: I/O error, unreachable broker, ...
	exitUsage   = 2 // bad flags or arguments
	exitInvalid = 3 // the input broke the protocol (dump: a malformed packet)
)

type command struct {
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"dump":    {"decode MQTT packets from hex or raw bytes and print each one", runDump},
	"version": {"print the version of linnet and of Go", runVersion},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "help":
		return runHelp(args[1:], stdin, stdout, stderr)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "linnet: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return cmd.run(args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "linnet: an MQTT 3.1.1 client and toolbox")
	fmt.Fprintln(w, "\nUsage: linnet <command> [flags] [arguments]")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-12s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'linnet help <command>' (or 'linnet <command> --help') for the flags of a command.")
	fmt.Fprintln(w, "In pub, sub, bench and probe, -h is the broker host, as in mosquitto_pub and mosquitto_sub.")
}

// runHelp prints the top-level usage, or with a command name the help of
// that command, to standard output.
func runHelp(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return exitOK
	case 1:
	default:
		fmt.Fprintln(stderr, "linnet help: give one command name")
		return exitUsage
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "linnet help: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	// A command prints its help to its error stream; here it is what was
	// asked for, so it goes to standard output.
	return cmd.run([]string{"--help"}, stdin, stdout, stdout)
}
