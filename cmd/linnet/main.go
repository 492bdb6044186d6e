// Command linnet is the command-line tool of the Linnet MQTT client.
//
// Usage:
//
//	linnet <command> [flags] [arguments]
//
// Commands:
//
//	dump     decode MQTT packets from hex or raw bytes and print each one
//	version  print the version of linnet and of Go
//
// Run `linnet <command> -h` for the flags of a command.
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
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
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
		fmt.Fprintf(w, "  %-8s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'linnet <command> -h' for the flags of a command.")
}
