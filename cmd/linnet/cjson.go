package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
)

// The payload of -F %J is parsed and printed again, as mosquitto_sub's JSON
// library does: numbers in their shortest C form (2.50 is 2.5, 1e2 is 100),
// no white space, or with --pretty its layout of tabs.

// jsonNode is a parsed JSON value that keeps the order of object keys.
type jsonNode struct {
	kind  byte // '{', '[', 's' string, 'n' number, 'l' literal (true, false, null)
	text  string
	keys  []string
	elems []*jsonNode
}

var errNotJSON = errors.New("not JSON")

// parseJSON parses one JSON value that fills b (white space around it
// allowed).
func parseJSON(b []byte) (*jsonNode, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := parseJSONValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errNotJSON
	}
	return n, nil
}

func parseJSONValue(dec *json.Decoder) (*jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, errNotJSON
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &jsonNode{kind: byte(t)}
		if t != '{' && t != '[' {
			return nil, errNotJSON
		}
		for dec.More() {
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, errNotJSON
				}
				n.keys = append(n.keys, k.(string))
			}
			e, err := parseJSONValue(dec)
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, e)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, errNotJSON
		}
		return n, nil
	case string:
		return &jsonNode{kind: 's', text: t}, nil
	case json.Number:
		return &jsonNode{kind: 'n', text: cNumber(t)}, nil
	case bool:
		return &jsonNode{kind: 'l', text: strconv.FormatBool(t)}, nil
	case nil:
		return &jsonNode{kind: 'l', text: "null"}, nil
	}
	return nil, errNotJSON
}

// cNumber prints a number as the C JSON library does: as an integer when
// it is one that fits an int, else with 15 significant digits, or 17 when
// 15 do not give the same double back.
func cNumber(n json.Number) string {
	d, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(d, 0) || math.IsNaN(d) {
		return "null"
	}
	if d == math.Trunc(d) && d >= math.MinInt32 && d <= math.MaxInt32 {
		return strconv.Itoa(int(d))
	}
	s := strconv.FormatFloat(d, 'g', 15, 64)
	if back, _ := strconv.ParseFloat(s, 64); back != d {
		s = strconv.FormatFloat(d, 'g', 17, 64)
	}
	return cExponent(s)
}

// cExponent writes Go's exponent (e+20, e-07) as C's %g does: at least two
// digits, which Go already does, so only the mantissa needs C's trimming
// that 'g' with a precision does not do.
func cExponent(s string) string {
	mant, exp, hasExp := strings.Cut(s, "e")
	if strings.Contains(mant, ".") {
		mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
	}
	if hasExp {
		return mant + "e" + exp
	}
	return mant
}

// appendNode prints n at depth (1 for a top-level container).
func appendNode(b []byte, n *jsonNode, depth int, pretty bool) []byte {
	switch n.kind {
	case 's':
		return append(b, cString(n.text)...)
	case 'n', 'l':
		return append(b, n.text...)
	case '[':
		b = append(b, '[')
		for i, e := range n.elems {
			if i > 0 {
				b = append(b, ',')
				if pretty {
					b = append(b, ' ')
				}
			}
			b = appendNode(b, e, depth+1, pretty)
		}
		return append(b, ']')
	}
	b = append(b, '{')
	if pretty {
		b = append(b, '\n')
	}
	for i, e := range n.elems {
		if pretty {
			b = append(b, strings.Repeat("\t", depth)...)
		}
		b = append(b, cString(n.keys[i])...)
		b = append(b, ':')
		if pretty {
			b = append(b, '\t')
		}
		b = appendNode(b, e, depth+1, pretty)
		if i < len(n.elems)-1 {
			b = append(b, ',')
		}
		if pretty {
			b = append(b, '\n')
		}
	}
	if pretty {
		b = append(b, strings.Repeat("\t", depth-1)...)
	}
	return append(b, '}')
}
