package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// failure prints err as one line naming its cause, prefixed with the
// command's name, and returns the exit code for it. The hints name the
// command's own flags.
func failure(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "linnet %s: %s\n", cmd, oneLine(describeErrFor(cmd, err)))
	return exitCodeFor(err)
}

// hintFlags are the flags the hints of describeErrFor name, by command:
// those that set the credentials and those that set the client id.
var hintFlags = map[string][2]string{
	"pub":   {"-u, -P", "-i"},
	"sub":   {"-u, -P", "-i"},
	"bench": {"-u, -P", "-i"},
	"probe": {"-u, -P", "-i"},
	"dms":   {"-id, -password", "-id"},
}

func exitCodeFor(err error) int {
	var ue *usageError
	var suback *subackError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.Is(err, transport.ErrInvalidURI), errors.Is(err, client.ErrInvalidOptions),
		errors.Is(err, client.ErrInvalidArgument), errors.As(err, new(*tooLargeError)):
		return exitUsage
	case errors.Is(err, client.ErrRefused), errors.As(err, &suback):
		return exitRefused
	case errors.Is(err, errTimeLimit):
		return exitTimeout
	}
	return exitFailure
}

// errTimeLimit is the -W limit running out.
var errTimeLimit = errors.New("time limit reached")

// subackError is a subscription the broker refused.
type subackError struct{ filter string }

func (e *subackError) Error() string {
	return fmt.Sprintf("refused: the broker refused the subscription to %q (SUBACK 0x80)", e.filter)
}

// describeErr says what went wrong, cause first: "refused: ...", "TLS: ...",
// "DNS: ...", "timeout: ...", "unreachable: ...". Its hints name no flag;
// describeErrFor names those of a command.
func describeErr(err error) string { return describeErrFor("", err) }

// describeErrFor is describeErr with hints that name the flags of cmd.
func describeErrFor(cmd string, err error) string {
	var (
		ue      *usageError
		ce      *client.ConnectError
		te      *transport.TLSError
		dnsErr  *net.DNSError
		lost    *client.ConnectionLostError
		uriErr  *transport.URIError
		optErr  *client.OptionError
		suback  *subackError
		netErr  net.Error
		opErr   *net.OpError
		dialErr *transport.DialError
	)
	server := ""
	if errors.As(err, &dialErr) {
		server = dialErr.URI
	}
	var (
		big   *tooLargeError
		bind  *bindError
		proxy *proxyDialError
		socks *socksError
	)
	switch {
	case errors.As(err, &ue), errors.As(err, &suback):
		return err.Error()
	case errors.As(err, &big):
		return big.Error()
	case errors.As(err, &bind):
		return bind.Error()
	case errors.As(err, &proxy):
		return "unreachable: " + proxy.Error()
	case errors.As(err, &socks):
		return socks.Error() + at(server)
	case errors.Is(err, errTimeLimit):
		return "timeout: " + err.Error()
	case errors.As(err, &ce):
		s := "refused: " + ce.Code.String() + " (CONNACK return code " + strconv.Itoa(int(ce.Code)) + ")"
		if ce.Server != "" {
			s += " by " + ce.Server
		}
		switch ce.Code {
		case packet.RefusedBadUserNamePassword, packet.RefusedNotAuthorized:
			s += "; check the user name and password" + inParens(hintFlags[cmd][0])
		case packet.RefusedIdentifierRejected:
			s += "; check the client id" + inParens(hintFlags[cmd][1])
		}
		return s
	case errors.As(err, &uriErr):
		return "invalid URI: " + strings.TrimPrefix(uriErr.Error(), "transport: invalid server URI ")
	case errors.As(err, &optErr):
		return "invalid option: " + strings.TrimPrefix(optErr.Error(), "mqtt: ")
	case errors.As(err, &te):
		hint := ""
		switch {
		case errors.Is(err, transport.ErrUnknownAuthority):
			hint = "; is --cafile the CA that signed the broker's certificate?"
		case errors.Is(err, transport.ErrHostnameMismatch):
			hint = "; connect by a name in the certificate, or --insecure"
		case errors.Is(err, transport.ErrClientCertRejected):
			hint = "; check --cert and --key"
		}
		what := te.Kind.Error()
		if te.Kind == transport.ErrTLS {
			what = te.Err.Error()
		}
		return "TLS: " + what + at(server) + hint
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("DNS: no such host %q", dnsErr.Name)
		}
		return fmt.Sprintf("DNS: cannot resolve %q: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "unreachable: connection refused" + at(server) + " (is a broker listening there?)"
	case errors.Is(err, syscall.ENOENT) && errors.As(err, &opErr):
		return "unreachable: no such socket" + at(server)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable: no route" + at(server)
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout: " + trimPrefixes(err.Error())
	case errors.As(err, &lost):
		return "connection lost: " + trimPrefixes(lost.Err.Error())
	case errors.Is(err, client.ErrNoCONNACK):
		return "no CONNACK: the server closed the connection before accepting it" + at(server)
	}
	return trimPrefixes(err.Error())
}

func inParens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func at(server string) string {
	if server == "" {
		return ""
	}
	return " at " + server
}

func trimPrefixes(s string) string {
	for _, p := range []string{"mqtt: ", "transport: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
