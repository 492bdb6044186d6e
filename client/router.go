package client

import (
	"slices"
	"strings"
	"sync"

	"github.com/linnet-mqtt/linnet/packet"
)

// Handler receives an inbound message on the dispatcher goroutine. The
// message and its payload belong to the handler and stay valid after it
// returns.
type Handler func(*Message)

// router maps topic filters to handlers: filters without wildcards in a map
// keyed by the filter, the others in a tree of levels. A topic can match
// several routes; each route's handler is called once, in the order the
// routes were added. A shared subscription filter ($share/group/f) routes
// on f. Topics starting with '$' are not matched by a filter starting with a
// wildcard [MQTT-4.7.2-1].
//
// It is safe for concurrent use.
type router struct {
	mu     sync.RWMutex
	seq    uint64
	routes map[string]*route   // by the filter as given
	exact  map[string][]*route // by the filter part, no wildcards
	tree   node
}

type route struct {
	filter  string // as given, maybe $share/...
	part    string // the filter part that is matched
	seq     uint64 // order of addition
	handler Handler
}

type node struct {
	children map[string]*node // by level; "+" is a child like any other
	hash     []*route         // filters ending in "#" at this node
	end      []*route         // filters ending at this node
}

// newRouter returns an empty router. Its maps are made by the first add: a
// client that subscribes to nothing does not pay for them.
func newRouter() *router {
	return &router{}
}

// add routes filter to h, replacing the handler of an existing route for
// the same filter (which keeps its place in the order).
func (r *router) add(filter string, h Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rt, ok := r.routes[filter]; ok {
		rt.handler = h
		return
	}
	part := filter
	if _, f, ok := packet.SharedFilter(filter); ok {
		part = f
	}
	r.seq++
	rt := &route{filter: filter, part: part, seq: r.seq, handler: h}
	if r.routes == nil {
		r.routes, r.exact = make(map[string]*route), make(map[string][]*route)
	}
	r.routes[filter] = rt
	if !strings.ContainsAny(part, "+#") {
		r.exact[part] = append(r.exact[part], rt)
		return
	}
	n := &r.tree
	for {
		level, rest, more := strings.Cut(part, "/")
		if level == "#" {
			n.hash = append(n.hash, rt)
			return
		}
		if n.children == nil {
			n.children = make(map[string]*node)
		}
		c := n.children[level]
		if c == nil {
			c = new(node)
			n.children[level] = c
		}
		n = c
		if !more {
			n.end = append(n.end, rt)
			return
		}
		part = rest
	}
}

// remove drops the route of filter, if any.
func (r *router) remove(filter string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rt, ok := r.routes[filter]
	if !ok {
		return
	}
	delete(r.routes, filter)
	drop := func(s []*route) []*route {
		return slices.DeleteFunc(s, func(x *route) bool { return x == rt })
	}
	if !strings.ContainsAny(rt.part, "+#") {
		if s := drop(r.exact[rt.part]); len(s) > 0 {
			r.exact[rt.part] = s
		} else {
			delete(r.exact, rt.part)
		}
		return
	}
	// Walk down, remembering the path to prune empty nodes.
	path := []*node{&r.tree}
	keys := []string{}
	n, part := &r.tree, rt.part
	for {
		level, rest, more := strings.Cut(part, "/")
		if level == "#" {
			n.hash = drop(n.hash)
			break
		}
		c := n.children[level]
		if c == nil {
			return
		}
		path, keys = append(path, c), append(keys, level)
		n = c
		if !more {
			n.end = drop(n.end)
			break
		}
		part = rest
	}
	for i := len(path) - 1; i > 0; i-- {
		c := path[i]
		if len(c.children) > 0 || len(c.hash) > 0 || len(c.end) > 0 {
			break
		}
		delete(path[i-1].children, keys[i-1])
	}
}

// has reports whether filter has a route.
func (r *router) has(filter string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.routes[filter]
	return ok
}

// match appends the handlers of every route matching topic to dst, in the
// order the routes were added.
func (r *router) match(dst []Handler, topic string) []Handler {
	r.mu.RLock()
	var buf [8]*route // on the stack for the usual few matches
	found := buf[:0]
	found = append(found, r.exact[topic]...)
	dollar := len(topic) > 0 && topic[0] == '$'
	found = r.tree.collect(found, topic, !dollar)
	r.mu.RUnlock()
	if len(found) > 1 {
		slices.SortFunc(found, func(a, b *route) int {
			switch {
			case a.seq < b.seq:
				return -1
			case a.seq > b.seq:
				return 1
			}
			return 0
		})
	}
	for _, rt := range found {
		dst = append(dst, rt.handler)
	}
	return dst
}

// collect appends the routes under n that match topic. wild is false at
// the first level of a '$' topic, where wildcards do not match
// [MQTT-4.7.2-1].
func (n *node) collect(found []*route, topic string, wild bool) []*route {
	if wild {
		found = append(found, n.hash...) // "#" matches this level and below, "a/#" matches "a"
	}
	if n.children == nil {
		return found
	}
	level, rest, more := strings.Cut(topic, "/")
	for _, key := range [2]string{level, "+"} {
		if key == "+" && !wild {
			continue
		}
		c := n.children[key]
		if c == nil {
			continue
		}
		if more {
			found = c.collect(found, rest, true)
		} else {
			found = append(found, c.end...)
			found = append(found, c.hash...) // "a/#" matches "a"
		}
	}
	return found
}
