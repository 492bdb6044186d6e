package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/linnet-mqtt/linnet/packet"
)

const dumpUsage = `Usage: linnet dump [-x] [-v] [-e HEX] [FILE]

Decodes the MQTT packets in FILE (or standard input), one after another, and
prints each one with its byte offset. At the first packet that breaks the
protocol it prints the rule it breaks and the offset, and exits with code 3.

Input is raw bytes unless -x is given; then it is hex text, where spaces, line
breaks, '0x' prefixes and comments from '#' to the end of a line are ignored
(the format of testdata/vectors and of fuzz findings).

Examples:
  linnet dump -e '30 07 00 03 61 2f 62 68 69'
  linnet dump -x finding.hex
  linnet dump stream.bin
  head -c 64 stream.bin | linnet dump

Flags:
`

func runDump(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("linnet dump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	isHex := fs.Bool("x", false, "the input is hex text, not raw bytes")
	expr := fs.String("e", "", "decode this hex string instead of reading a file")
	verbose := fs.Bool("v", false, "print the bytes of each packet in hex too")
	fs.Usage = func() { fmt.Fprint(stderr, dumpUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 1 || (*expr != "" && fs.NArg() > 0) {
		fmt.Fprintln(stderr, "linnet dump: give one FILE, or -e, not both")
		return exitUsage
	}

	var data []byte
	switch {
	case *expr != "":
		data = []byte(*expr)
		*isHex = true
	case fs.NArg() == 1 && fs.Arg(0) != "-":
		b, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "linnet dump: %v\n", err)
			return exitFailure
		}
		data = b
	default:
		b, err := io.ReadAll(io.LimitReader(stdin, packet.MaxPacketSize*2))
		if err != nil {
			fmt.Fprintf(stderr, "linnet dump: reading standard input: %v\n", err)
			return exitFailure
		}
		data = b
	}
	if *isHex {
		b, err := parseHex(string(data))
		if err != nil {
			fmt.Fprintf(stderr, "linnet dump: %v\n", err)
			return exitUsage
		}
		data = b
	}
	return dump(data, *verbose, stdout)
}

// dump prints every packet in data and returns the exit code.
func dump(data []byte, verbose bool, w io.Writer) int {
	off := 0
	for off < len(data) {
		p, n, err := packet.Decode(data[off:])
		if err != nil {
			var pe *packet.ProtocolError
			switch {
			case errors.As(err, &pe):
				fmt.Fprintf(w, "%06x  INVALID: %v\n", off, err)
			case errors.Is(err, io.ErrUnexpectedEOF):
				fmt.Fprintf(w, "%06x  TRUNCATED: %d bytes left, not a whole packet\n", off, len(data)-off)
			default:
				fmt.Fprintf(w, "%06x  ERROR: %v\n", off, err)
			}
			return exitInvalid
		}
		fmt.Fprintf(w, "%06x  %v\n", off, p)
		if verbose {
			fmt.Fprintf(w, "        % x\n", data[off:off+n])
		}
		off += n
	}
	return exitOK
}

// parseHex decodes hex text, ignoring white space, 0x prefixes and
// comments from '#' to the end of a line.
func parseHex(s string) ([]byte, error) {
	var digits strings.Builder
	for i, line := range strings.Split(s, "\n") {
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		for _, f := range strings.Fields(line) {
			f = strings.TrimPrefix(strings.TrimPrefix(f, "0x"), "0X")
			if _, err := hex.DecodeString(padEven(f)); err != nil {
				return nil, fmt.Errorf("line %d: %q is not hex", i+1, f)
			}
			digits.WriteString(f)
		}
	}
	if digits.Len()%2 != 0 {
		return nil, errors.New("an odd number of hex digits")
	}
	return hex.DecodeString(digits.String())
}

func padEven(s string) string {
	if len(s)%2 != 0 {
		return "0" + s
	}
	return s
}
