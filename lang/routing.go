package lang

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

const (
	ruleLineHint  = "write: rule fwmark 0x6b7362 [priority 100]"
	routeLineHint = `write: route default via 192.0.2.1 dev "eth0" (a prefix, or default; via, dev or both)`
)

// routing builds a routing block: its table, rules and routes.
func (b *builder) routing(r *Routing) *ir.RoutingTable {
	pos, _ := endPos(r.Pos, r.EndPos)
	ids, ok := b.resolve(r.Table, true)
	if !ok {
		return nil
	}
	if len(ids) != 1 {
		b.errorf(pos, ir.Pos{}, "routing table needs one number").Hint = "e.g. routing table 7362 { ... }"
		return nil
	}
	id, err := strconv.ParseUint(ids[0].text, 0, 32)
	if err != nil {
		b.errorf(ids[0].pos, ids[0].end(), "routing table %q is not a number from 1 to 4294967295", ids[0].text).Hint = "e.g. routing table 7362 { ... }"
		return nil
	}
	t := &ir.RoutingTable{Pos: pos, ID: uint32(id)}
	for _, line := range r.Lines {
		var words []elem
		ok := true
		for _, v := range line.Words {
			es, good := b.resolve(v, true)
			ok = ok && good
			words = append(words, es...)
		}
		if !ok || len(words) == 0 {
			continue
		}
		linePos, _ := endPos(line.Pos, line.EndPos)
		switch words[0].text {
		case "rule":
			if rule, ok := b.routeRule(linePos, words[1:]); ok {
				t.Rules = append(t.Rules, rule)
			}
		case "route":
			if route, ok := b.route(linePos, words[1:]); ok {
				t.Routes = append(t.Routes, route)
			}
		case "src_valid_mark":
			if len(words) > 1 {
				b.errorf(words[1].pos, words[1].end(), "src_valid_mark takes no value").Hint = "write src_valid_mark alone: it turns net.ipv4.conf.all.src_valid_mark on"
				continue
			}
			t.SrcValidMark = true
		default:
			b.errorf(words[0].pos, words[0].end(), "unknown routing line %q", words[0].text).Hint = "a routing block has rule, route and src_valid_mark lines: " + ruleLineHint + "; " + routeLineHint
		}
	}
	return t
}

// routeRule reads "fwmark MARK [priority N]".
func (b *builder) routeRule(pos ir.Pos, words []elem) (ir.RouteRule, bool) {
	r := ir.RouteRule{Pos: pos, Priority: ir.DefaultRulePriority}
	if len(words) != 2 && len(words) != 4 || words[0].text != "fwmark" || len(words) == 4 && words[2].text != "priority" {
		b.errorf(pos, ir.Pos{}, "a routing rule is fwmark MARK, then priority N if any").Hint = ruleLineHint
		return r, false
	}
	mark, err := strconv.ParseUint(words[1].text, 0, 32)
	if err != nil {
		b.errorf(words[1].pos, words[1].end(), "fwmark %q is not a 32-bit number", words[1].text).Hint = ruleLineHint
		return r, false
	}
	r.Mark = uint32(mark)
	if len(words) == 4 {
		prio, err := strconv.ParseUint(words[3].text, 0, 32)
		if err != nil || prio == 0 || prio >= 32766 {
			b.errorf(words[3].pos, words[3].end(), "priority %q is not a number from 1 to 32765", words[3].text).Hint =
				"a rule's priority puts it before the main table's (32766); 0 is the local table's"
			return r, false
		}
		r.Priority = uint32(prio)
	}
	return r, true
}

// route reads "DESTINATION [via ADDRESS] [dev NAME]".
func (b *builder) route(pos ir.Pos, words []elem) (ir.Route, bool) {
	r := ir.Route{Pos: pos}
	if len(words) == 0 {
		b.errorf(pos, ir.Pos{}, "a route needs a destination").Hint = routeLineHint
		return r, false
	}
	dst := words[0]
	switch {
	case dst.text == "default":
		r.Dst = netip.MustParsePrefix("0.0.0.0/0")
	case strings.Contains(dst.text, "/"):
		p, err := netip.ParsePrefix(dst.text)
		if err != nil || p != p.Masked() {
			b.errorf(dst.pos, dst.end(), "route destination %q is not a prefix", dst.text).Hint = routeLineHint
			return r, false
		}
		r.Dst = p
	default:
		a, err := netip.ParseAddr(dst.text)
		if err != nil {
			b.errorf(dst.pos, dst.end(), "route destination %q is not an address, a prefix or default", dst.text).Hint = routeLineHint
			return r, false
		}
		r.Dst = netip.PrefixFrom(a, a.BitLen())
	}
	rest := words[1:]
	for len(rest) > 0 {
		if len(rest) < 2 {
			b.errorf(rest[0].pos, rest[0].end(), "%q needs a value", rest[0].text).Hint = routeLineHint
			return r, false
		}
		key, val := rest[0], rest[1]
		switch {
		case key.text == "via" && !r.Via.IsValid():
			a, err := netip.ParseAddr(val.text)
			if err != nil {
				b.errorf(val.pos, val.end(), "gateway %q is not an address", val.text).Hint = routeLineHint
				return r, false
			}
			r.Via = a
		case key.text == "dev" && r.Dev == "":
			if err := ir.CheckInterfaceName(val.text); err != nil || strings.HasSuffix(val.text, "*") {
				b.errorf(val.pos, val.end(), "dev %q is not an interface name", val.text).Hint = "a route leaves by one interface: no wildcard"
				return r, false
			}
			r.Dev = val.text
		default:
			b.errorf(key.pos, key.end(), "unexpected %q in a route", key.text).Hint = routeLineHint
			return r, false
		}
		rest = rest[2:]
	}
	return r, true
}
