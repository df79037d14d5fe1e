package lang

// The statements a rule may hold after its matches: reject's answer, log,
// mark setting, nat and limit (clause.go maps each first word to these).

import (
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ksc-project/ksc/ir"
)

// rejectWith reads what follows "reject with": "tcp reset", or "icmp",
// "icmpv6" or "icmpx", an optional "type", and a code by name or number.
func (rb *ruleBuilder) rejectWith() bool {
	with := rb.next()
	pos, end := with.span()
	hint := "e.g. reject with tcp reset, reject with icmpx admin-prohibited, reject with icmp host-prohibited"
	kindWord := rb.next()
	if kindWord == nil {
		rb.errorf(pos, end, "reject with what?").Hint = hint
		return false
	}
	at, to := kindWord.span()
	if kindWord.word() == "tcp" {
		if t := rb.next(); t == nil || t.word() != "reset" {
			rb.errorf(at, to, "reject with tcp must be followed by reset").Hint = hint
			return false
		}
		rb.out.RejectWith = ir.RejectWith{Kind: ir.RejectTCPReset}
		return true
	}
	kind, ok := map[string]ir.RejectKind{"icmp": ir.RejectICMP, "icmpv6": ir.RejectICMPv6, "icmpx": ir.RejectICMPX}[kindWord.word()]
	if !ok {
		rb.errorf(at, to, "unknown reject answer %q", kindWord.word()).Hint = hint
		return false
	}
	code := rb.next()
	if code != nil && code.word() == "type" {
		code = rb.next() // nft's older spelling: reject with icmp type host-prohibited
	}
	if code == nil || code.word() == "" {
		rb.errorf(at, to, "reject with %s needs a code", kindWord.word()).Hint = hint
		return false
	}
	var names []string
	for _, n := range kind.Codes() {
		names = append(names, n.Name)
		if n.Name == code.word() {
			rb.out.RejectWith = ir.RejectWith{Kind: kind, Code: uint8(n.Value)}
			return true
		}
	}
	cat, cto := code.span()
	d := rb.errorf(cat, cto, "unknown %s code %q", kindWord.word(), code.word())
	d.Hint = "use one of: " + strings.Join(names, ", ")
	if best, near := closest(code.word(), names); near {
		d.Hint = "did you mean " + best + "?"
	}
	return false
}

// log reads "log [prefix TEXT] [group N] [level LEVEL] [flags FLAGS]...".
func (rb *ruleBuilder) log(pos ir.Pos) *ir.Log {
	l := &ir.Log{Pos: pos}
	seen := map[string]bool{}
	for {
		t := rb.peek()
		key := ""
		if t != nil {
			key = t.word()
		}
		if key != "prefix" && key != "level" && key != "group" && key != "flags" {
			return l
		}
		rb.next()
		at, end := t.span()
		if key == "flags" {
			if !rb.logFlags(l, at, end) {
				return l
			}
			continue
		}
		v := rb.next()
		if v == nil || v.Value == nil || v.Value.String == nil && v.Value.Word == nil {
			rb.errorf(at, end, "log %s needs a value", key).Hint = `e.g. log prefix "drop: " level info`
			return l
		}
		if seen[key] {
			rb.errorf(at, end, "log has %s twice", key)
		}
		seen[key] = true
		if key == "prefix" {
			text := v.Value.Word
			if v.Value.String != nil {
				text = v.Value.String
			}
			l.Prefix = strings.Trim(*text, `"`)
			continue
		}
		if key == "group" {
			n, err := strconv.ParseUint(derefOr(v.Value.Word, ""), 10, 16)
			if err != nil {
				vp, ve := v.span()
				rb.errorf(vp, ve, "log group needs a number 0-65535, not %q", strings.Trim(derefOr(v.Value.String, derefOr(v.Value.Word, "")), `"`))
			}
			l.ToGroup, l.Group = true, uint16(n)
			continue
		}
		name := ""
		if v.Value.Word != nil {
			name = *v.Value.Word
		}
		level, ok := ir.ParseLogLevel(name)
		if !ok {
			vp, ve := v.span()
			d := rb.errorf(vp, ve, "unknown log level %q", strings.Trim(derefOr(v.Value.String, name), `"`))
			d.Hint = fmt.Sprintf("use one of %v", ir.LogLevels)
		}
		l.Level = level
	}
}

// markSet reads what follows "meta mark set" or "ct mark set": a number,
// or a mark ("ct mark set meta mark") and the bit operations nft writes
// after it ("and 0xff00 or 0x1", also '&', '|', "xor"), which come to one
// mask of bits kept and bits flipped, as the kernel applies them.
func (rb *ruleBuilder) markSet(target ir.Field, pos, end ir.Pos) *ir.MarkSet {
	if sels, n := selectorsAt(rb.terms[rb.i:]); sels != nil && rb.i+n < len(rb.terms) && rb.terms[rb.i+n].word() == "map" {
		rb.i += n + 1
		return rb.markMap(target, sels, pos, end)
	}
	st := &ir.MarkSet{Pos: pos, Target: target}
	if sel, n := selectorAt(rb.terms[rb.i:]); sel != nil && slices.Contains(ir.MarkSetTargets, sel.Field) {
		rb.i += n
		st.From = sel.Field
		keep, flip := ^uint32(0), uint32(0)
		ok := rb.markOps(target, func(op string, v uint32) {
			switch op { // each on (from & keep) ^ flip
			case "and":
				keep, flip = keep&v, flip&v
			case "or":
				keep, flip = keep&^v, flip|v
			default:
				flip ^= v
			}
		})
		if !ok {
			return nil
		}
		if keep == 0 {
			st.From = 0 // no bit of the mark is left
		}
		st.Mask, st.Value = keep, flip
		if st.From == st.Target && keep == ^uint32(0) && flip == 0 {
			rb.errorf(pos, end, "%s set %s changes nothing", target, target).Hint = "give a bit operation: " + target.String() + " set " + target.String() + " and 0xff00 or 0x1"
			return nil
		}
		return st
	}
	v, ok := rb.markNumber(target, pos, end)
	if !ok {
		return nil
	}
	// nft folds a constant's operations: "meta mark set 0x16 and 0x16".
	ok = rb.markOps(target, func(op string, n uint32) {
		switch op {
		case "and":
			v &= n
		case "or":
			v |= n
		default:
			v ^= n
		}
	})
	if !ok {
		return nil
	}
	st.Value = v
	return st
}

// markOps reads the bit operations after a mark set's value ("and 0xff00
// or 0x1", "& 0xff", "| 0x2", "xor 0x3"), in order, and applies each.
func (rb *ruleBuilder) markOps(target ir.Field, apply func(op string, v uint32)) bool {
	for {
		t := rb.peek()
		if t == nil {
			return true
		}
		op := map[string]string{"and": "and", "or": "or", "|": "or", "xor": "xor"}[t.word()]
		if t.Amp {
			op = "and"
		}
		if op == "" {
			return true
		}
		rb.next()
		opPos, opEnd := t.span()
		v, ok := rb.markNumber(target, opPos, opEnd)
		if !ok {
			return false
		}
		apply(op, v)
	}
}

// mssSet reads what follows "tcp option": "maxseg size set rt mtu", or
// "... set N", the one TCP option ksc writes.
func (rb *ruleBuilder) mssSet(pos, end ir.Pos) bool {
	const form = "tcp option maxseg size set rt mtu, or tcp option maxseg size set 1400"
	for _, w := range []string{"maxseg", "size", "set"} {
		t := rb.next()
		if t == nil || t.word() != w {
			at, to := pos, end
			if t != nil {
				at, to = t.span()
			}
			rb.errorf(at, to, "ksc writes one TCP option, the maximum segment size").Hint = form
			return false
		}
	}
	st := &ir.MSSSet{Pos: pos}
	if t := rb.peek(); t != nil && t.word() == "rt" {
		rb.next()
		if m := rb.next(); m == nil || m.word() != "mtu" {
			at, to := t.span()
			rb.errorf(at, to, "rt needs mtu here").Hint = form
			return false
		}
	} else {
		text, at, to, ok := rb.glued()
		if !ok {
			return false
		}
		v, err := strconv.ParseUint(text, 0, 16)
		if err != nil || v == 0 {
			if text == "" {
				at, to = pos, end
			}
			rb.errorf(at, to, "the maximum segment size is a number from 1 to 65535, not %q", text).Hint = form
			return false
		}
		st.Size = uint16(v)
	}
	return rb.act(st) // matches after it are refused, as after counter
}

// dscpSet reads the code point of "ip dscp set cs1" (or a number, or a
// $NAME of one).
func (rb *ruleBuilder) dscpSet(sel *ir.Selector, pos, end ir.Pos) bool {
	text, at, to, ok := rb.glued()
	if !ok {
		return false
	}
	v, known := ir.KindDSCP.ValueOf(text)
	if !known {
		n, err := strconv.ParseUint(text, 0, 8)
		if err != nil || n > ir.KindDSCP.Max() {
			if text == "" {
				at, to = pos, end
			}
			rb.errorf(at, to, "%s set needs a code point from 0 to 63 or a name (cs0-cs7, af11-af43, ef), not %q", sel.Words, text).Hint = "e.g. " + sel.Words + " set cs1"
			return false
		}
		v = uint32(n)
	}
	return rb.act(&ir.DSCPSet{Pos: pos, Field: sel.Field, Value: uint8(v)})
}

// trace reads the rest of "meta nftrace set 1" (or 0).
func (rb *ruleBuilder) trace(pos, end ir.Pos) bool {
	const form = "meta nftrace set 1, and nft monitor trace shows the packets' way"
	set, v := rb.next(), rb.next()
	switch {
	case set == nil || set.word() != "set":
		rb.errorf(pos, end, "ksc writes nftrace, and matches no packet on it").Hint = form
		return false
	case v == nil || v.word() != "0" && v.word() != "1":
		at, to := set.span()
		if v != nil {
			at, to = v.span()
		}
		rb.errorf(at, to, "nftrace is 0 or 1").Hint = form
		return false
	}
	return rb.act(&ir.Trace{Pos: pos, On: v.word() == "1"})
}

// markNumber reads a 32-bit number of a mark statement, or a $NAME of one.
func (rb *ruleBuilder) markNumber(target ir.Field, pos, end ir.Pos) (uint32, bool) {
	text, at, to, ok := rb.glued()
	switch {
	case !ok:
		return 0, false
	case text == "":
		rb.errorf(pos, end, "%s set needs a value", target).Hint = "a 32-bit number, or a mark: meta mark set ct mark, meta mark set meta mark and 0xff00 or 0x1"
		return 0, false
	}
	v, err := strconv.ParseUint(text, 0, 32)
	if err != nil {
		rb.errorf(at, to, "%s set needs a 32-bit number, not %q", target, text).Hint = "e.g. 0x6d6f6c65, or a mark: meta mark set ct mark"
		return 0, false
	}
	return uint32(v), true
}

// glued reads the next value as nft reads one: the words and $NAMEs
// written without space between them ("$HOST:$PORT", ":$PORT"), each
// $NAME replaced by its one value, as -D gives it per machine. It returns
// "" when no such term follows, and false after an error it reported (or
// for a define without a value in a disabled rule, which is none).
func (rb *ruleBuilder) glued() (text string, at, to ir.Pos, ok bool) {
	var b strings.Builder
	for i := 0; ; i++ {
		t := rb.peek()
		if t == nil || t.Value == nil || t.Value.Word == nil && t.Value.Var == nil {
			break
		}
		if i > 0 && t.Pos.Offset != rb.terms[rb.i-1].EndPos.Offset {
			break // a space ends the value
		}
		rb.next()
		pos, end := t.span()
		if i == 0 {
			at = pos
		}
		to = end
		if t.Value.Word != nil {
			b.WriteString(*t.Value.Word)
			continue
		}
		elems, resolved := rb.resolve(t.Value, rb.enabled)
		switch {
		case !resolved:
			return "", at, to, false
		case len(elems) == 0:
			return "", at, to, false // a define without a value, in a disabled rule
		case len(elems) > 1:
			rb.errorf(pos, end, "%s holds %d values; one is needed here", *t.Value.Var, len(elems)).Hint = "define it as one value: define NAME = VALUE"
			return "", at, to, false
		}
		b.WriteString(elems[0].text)
	}
	return b.String(), at, to, true
}

// natHint is how snat or dnat is written.
func natHint(kind ir.NATKind) string {
	if kind == ir.DNAT {
		return "dnat to 192.0.2.10, dnat to 192.0.2.10:8080, or in an inet table dnat ip to 192.0.2.10:8080 / dnat ip6 to [2001:db8::10]:8080"
	}
	return "snat to 192.0.2.1, or in an inet table snat ip to 192.0.2.1 / snat ip6 to 2001:db8::1"
}

// natHead reads what comes between snat or dnat and the address:
// "[ip|ip6] to". The family word, which nft needs in inet tables, must
// agree with the address.
func (rb *ruleBuilder) natHead(kind ir.NATKind, pos, end ir.Pos) (ir.Family, bool) {
	family := ir.Inet
	if t := rb.peek(); t != nil && (t.word() == "ip" || t.word() == "ip6") {
		rb.next()
		family = map[string]ir.Family{"ip": ir.IPv4, "ip6": ir.IPv6}[t.word()]
	}
	if t := rb.next(); t == nil || t.word() != "to" {
		rb.errorf(pos, end, "%s needs \"to\" and an address", kind).Hint = natHint(kind)
		return 0, false
	}
	return family, true
}

// nat reads the address of "snat [ip|ip6] to ADDRESS" (or $NAME of one
// address) after natHead.
func (rb *ruleBuilder) nat(kind ir.NATKind, family ir.Family, pos, end ir.Pos) *ir.NAT {
	if t := rb.peek(); t != nil && t.Value != nil && t.Value.Var != nil {
		// One $NAME alone may hold a set: say how many addresses it has.
		if elems, ok := rb.resolve(t.Value, rb.enabled); ok && len(elems) > 1 {
			at, to := t.span()
			rb.errorf(at, to, "%s rewrites to one address, not %d", kind, len(elems)).Hint = natHint(kind)
			return nil
		}
	}
	text, at, to, ok := rb.glued()
	switch {
	case !ok:
		return nil
	case text == "":
		rb.errorf(pos, end, "%s to needs an address", kind).Hint = natHint(kind)
		return nil
	}
	return rb.natTo(kind, family, pos, elem{text: text, pos: at}, to)
}

// natTo reads the address a rewrite goes to, or a range of them, and
// the port or range of ports: "192.0.2.10", "192.0.2.10-192.0.2.20:8000-8010",
// "[2001:db8::10]:8080".
func (rb *ruleBuilder) natTo(kind ir.NATKind, family ir.Family, pos ir.Pos, e elem, to ir.Pos) *ir.NAT {
	n := &ir.NAT{Pos: pos, Kind: kind}
	addrs, ports, ok := splitNATTarget(e.text)
	var msg string
	if ok {
		first, last, _ := strings.Cut(addrs, "-")
		var err error
		if n.Addr, err = netip.ParseAddr(strings.Trim(first, "[]")); err != nil {
			ok = false
		}
		if last != "" {
			if n.AddrLast, err = netip.ParseAddr(strings.Trim(last, "[]")); err != nil {
				ok = false
			}
		}
		if ports != "" {
			n.Port, n.PortLast, msg = natPorts(ports)
		}
	}
	if !ok {
		rb.errorf(e.pos, to, "%s to needs an address or a range of them, %s", kind, e.describe()).Hint = natHint(kind)
		return nil
	}
	if msg != "" {
		rb.errorf(e.pos, to, "%s to %s: %s", kind, e.text, msg).Hint = natHint(kind)
		return nil
	}
	if family != ir.Inet && family != n.Family() {
		rb.errorf(e.pos, to, "%s %s to %s: the address is not %s's", kind, family, n.Addr, family).Hint = natHint(kind)
		return nil
	}
	return n
}

// splitNATTarget splits "ADDRESSES[:PORTS]": an IPv6 address with ports
// is in brackets ("[2001:db8::1]-[2001:db8::9]:80").
func splitNATTarget(text string) (addrs, ports string, ok bool) {
	if strings.HasPrefix(text, "[") {
		i := strings.LastIndex(text, "]")
		if i < 0 {
			return "", "", false
		}
		addrs, rest := text[:i+1], text[i+1:]
		if rest == "" {
			return addrs, "", true
		}
		ports, ok = strings.CutPrefix(rest, ":")
		return addrs, ports, ok && ports != ""
	}
	if strings.Count(text, ":") == 1 {
		addrs, ports, _ = strings.Cut(text, ":")
		return addrs, ports, ports != ""
	}
	return text, "", text != ""
}

// natPorts reads "P" or "P-Q", ports from 1; msg says what is wrong.
func natPorts(text string) (port, last uint16, msg string) {
	first, second, isRange := strings.Cut(text, "-")
	p, err := strconv.ParseUint(first, 10, 16)
	if err != nil || p == 0 {
		return 0, 0, fmt.Sprintf("%q is not a port from 1 to 65535", first)
	}
	if !isRange {
		return uint16(p), 0, ""
	}
	q, err := strconv.ParseUint(second, 10, 16)
	if err != nil || q == 0 {
		return 0, 0, fmt.Sprintf("%q is not a port from 1 to 65535", second)
	}
	return uint16(p), uint16(q), ""
}

// portsTo reads "redirect [to :PORT[-PORT]]" or "masquerade [to
// :PORT[-PORT]]" after the kind's word.
func (rb *ruleBuilder) portsTo(kind ir.NATKind, pos ir.Pos) *ir.NAT {
	n := &ir.NAT{Pos: pos, Kind: kind}
	if t := rb.peek(); t == nil || t.word() != "to" {
		return n
	}
	rb.next()
	text, at, to, ok := rb.glued()
	if !ok {
		return nil
	}
	ports, colon := strings.CutPrefix(text, ":")
	var msg string
	if colon {
		n.Port, n.PortLast, msg = natPorts(ports)
	}
	if !colon || msg != "" {
		if text == "" {
			at, to = pos, ir.Pos{}
		}
		rb.errorf(at, to, "%s to needs a port or a range of them: %s to :8080", kind, kind).Hint = "or " + kind.String() + " alone, to keep the port"
		return nil
	}
	return n
}

var rateHint = "N from 1, UNIT one of " + strings.Join(ir.RateUnits, ", ") + "; e.g. limit rate 5/minute burst 10 packets, or in bytes, limit rate 1 mbytes/second"

// limit reads "limit rate [over] N/UNIT [burst M packets]", or a byte
// rate (see byteLimit).
func (rb *ruleBuilder) limit(pos, end ir.Pos) *ir.Limit {
	const example = "e.g. limit rate 5/minute burst 10 packets"
	word := func() (string, ir.Pos, ir.Pos) {
		t := rb.peek()
		if t == nil || t.Value == nil || t.Value.Word == nil {
			return "", end, end
		}
		rb.next()
		at, to := t.span()
		return *t.Value.Word, at, to
	}
	l := &ir.Limit{Pos: pos}
	if w, at, to := word(); w != "rate" {
		rb.errorf(at, to, "limit needs a rate").Hint = example
		return nil
	}
	if t := rb.peek(); t != nil && t.word() == "over" {
		rb.next()
		l.Over = true
	}
	w, at, to, ok := rb.glued() // "5/minute", or with $NAMEs: "$RATE/minute"
	if !ok {
		return nil
	}
	if w == "" {
		at, to = end, end
	}
	if isDigits(w) {
		return rb.byteLimit(l, w, at)
	}
	n, unit, ok := strings.Cut(w, "/")
	rate, err := strconv.ParseUint(n, 10, 32)
	u, uok := ir.ParseRateUnit(unit)
	if !ok || err != nil || rate == 0 || !uok {
		rb.errorf(at, to, "limit rate needs N/UNIT, not %q", w).Hint = rateHint
		return nil
	}
	l.Rate, l.Unit = rate, u
	if !rb.burst(l, end) {
		return nil
	}
	return l
}

// byteLimit reads the rest of a byte rate, "N bytes/UNIT [burst M
// bytes]", after its number n: nft's units are bytes, kbytes and mbytes,
// and it reads them spaced too ("1 kbytes / second").
func (rb *ruleBuilder) byteLimit(l *ir.Limit, n string, at ir.Pos) *ir.Limit {
	const example = "e.g. limit rate 1 mbytes/second burst 64 kbytes"
	var spec string
	to := at
	for !strings.Contains(spec, "/") || strings.HasSuffix(spec, "/") {
		t := rb.peek()
		if t == nil || !byteRatePart(spec, t.word()) {
			break // the rest is not a byte rate's: "limit rate 5 accept"
		}
		w, _, wto, ok := rb.glued()
		if !ok || w == "" {
			break
		}
		spec, to = spec+w, wto
	}
	if spec == "" {
		rb.errorf(at, to, "limit rate needs N/UNIT, not %q", n).Hint = rateHint
		return nil
	}
	bunit, tunit, _ := strings.Cut(spec, "/")
	count, err := strconv.ParseUint(n, 10, 32)
	mult, bok := byteUnit(bunit)
	u, uok := ir.ParseRateUnit(tunit)
	if err != nil || count == 0 || !bok || !uok {
		rb.errorf(at, to, "limit rate needs N/UNIT or N BYTES/UNIT, not %q", strings.TrimSpace(n+" "+spec)).Hint = example
		return nil
	}
	l.Rate, l.Unit, l.Bytes = count*mult, u, true
	if !rb.burst(l, to) {
		return nil
	}
	// The kernel keeps the bucket in nanoseconds of the unit for each
	// byte it holds, in 64 bits, and refuses a limit that overflows them.
	if hi, _ := bits.Mul64(l.Unit.Seconds()*uint64(time.Second), l.Rate+uint64(l.Burst)); hi != 0 {
		rb.errorf(at, to, "a byte rate of %s/%s and its burst overflow the kernel's bucket", ir.ByteCount(l.Rate), l.Unit).Hint =
			"a rate and burst below 17 gigabytes a second (less for longer units)"
		return nil
	}
	return l
}

// byteRatePart reports a word that continues a byte rate read so far:
// "kbytes/second", or spaced, "kbytes", "/", "second".
func byteRatePart(sofar, w string) bool {
	switch {
	case sofar == "":
		unit, _, _ := strings.Cut(w, "/")
		_, ok := byteUnit(unit)
		return ok
	case strings.HasSuffix(sofar, "/"):
		_, ok := ir.ParseRateUnit(w)
		return ok
	}
	return strings.HasPrefix(w, "/")
}

// burst reads "burst N packets" after a packet rate, or "burst N
// bytes|kbytes|mbytes" after a byte rate, when it comes next; end is
// where a missing unit is reported.
func (rb *ruleBuilder) burst(l *ir.Limit, end ir.Pos) bool {
	if t := rb.peek(); t == nil || t.word() != "burst" {
		return true
	}
	rb.next()
	n, nat, nto, ok := rb.glued()
	if !ok {
		return false
	}
	count, err := strconv.ParseUint(n, 10, 32)
	unit, uat, uto, _ := rb.glued()
	if unit == "" {
		uat, uto = end, end
	}
	if l.Bytes {
		mult, known := byteUnit(unit)
		if err != nil || !known || count*mult > math.MaxUint32 {
			rb.errorf(nat, uto, "a byte rate's burst is N bytes, kbytes or mbytes below 4 gigabytes, not %q", strings.TrimSpace(n+" "+unit)).Hint =
				"e.g. limit rate 1 mbytes/second burst 64 kbytes"
			return false
		}
		l.Burst = uint32(count * mult)
		return true
	}
	if err != nil || count == 0 {
		rb.errorf(nat, nto, "limit burst needs a number of packets from 1, not %q", n).Hint = "e.g. limit rate 5/minute burst 10 packets"
		return false
	}
	if unit != "packets" {
		rb.errorf(uat, uto, "limit burst counts packets: write \"burst %d packets\"", count)
		return false
	}
	l.Burst = uint32(count)
	return true
}

// byteUnit is how many bytes nft's unit counts.
func byteUnit(name string) (uint64, bool) {
	for _, u := range ir.ByteUnits {
		if u.Name == name {
			return u.Bytes, true
		}
	}
	return 0, false
}

// connCount reads what follows "ct count": "[over] N", a cap on the
// connections in conntrack that the rule (or its key) has.
func (rb *ruleBuilder) connCount(pos, end ir.Pos) *ir.Limit {
	const example = "e.g. ct count over 20, or add @conns { ip saddr ct count over 20 }"
	l := &ir.Limit{Pos: pos}
	if t := rb.peek(); t != nil && t.word() == "over" {
		rb.next()
		l.Over = true
	}
	word, at, to, ok := rb.glued() // the number, or a $NAME of one
	if !ok {
		return nil
	}
	if word == "" {
		at, to = end, end
	}
	n, err := strconv.ParseUint(word, 10, 32)
	if err != nil || n == 0 {
		rb.errorf(at, to, "ct count needs a number of connections from 1").Hint = example
		return nil
	}
	l.Conns = uint32(n)
	return l
}

// logFlags reads what follows "flags": "tcp sequence,options", "ip
// options", "skuid", "ether" or "all".
func (rb *ruleBuilder) logFlags(l *ir.Log, at, end ir.Pos) bool {
	hint := "log flags are tcp sequence,options, ip options, skuid, ether or all"
	t := rb.next()
	if t == nil || t.Value == nil || t.Value.Word == nil {
		rb.errorf(at, end, "log flags needs a flag").Hint = hint
		return false
	}
	group := *t.Value.Word
	var words []string
	if group == "tcp" || group == "ip" {
		for {
			w := rb.next()
			if w == nil || w.Value == nil || w.Value.Word == nil {
				rb.errorf(at, end, "log flags %s needs what to log", group).Hint = hint
				return false
			}
			words = append(words, group+" "+*w.Value.Word)
			if next := rb.peek(); next == nil || !next.Comma {
				break
			}
			rb.next()
		}
	} else {
		words = []string{group}
	}
	for _, w := range words {
		found := false
		for _, f := range ir.LogFlagWords {
			if f.Words == w {
				l.Flags |= f.Flags
				found = true
			}
		}
		if !found {
			tp, te := t.span()
			rb.errorf(tp, te, "unknown log flag %q", w).Hint = hint
			return false
		}
	}
	return true
}

func derefOr(s *string, alt string) string {
	if s != nil {
		return *s
	}
	return alt
}

// counterValues reads the "packets N bytes M" that nft lists after a
// counter and reads back as its starting values: a ruleset copied from
// "nft list ruleset" has them on every counter. They change no verdict;
// ksc's counters start at zero.
func (rb *ruleBuilder) counterValues() bool {
	for _, word := range []string{"packets", "bytes"} {
		t := rb.peek()
		if t == nil || t.word() != word {
			return true
		}
		rb.next()
		n := rb.next()
		if n == nil || !isNumber(n.word()) {
			at, to := t.span()
			rb.errorf(at, to, "counter %s needs a number", word).Hint = "write counter, or counter packets 0 bytes 0 as nft lists it"
			return false
		}
	}
	return true
}

// natFlags reads nft's "random", "fully-random" and "persistent" after a
// rewrite, one or several joined by commas.
func (rb *ruleBuilder) natFlags(n *ir.NAT) bool {
	for first := true; ; first = false {
		t := rb.peek()
		if t == nil {
			return true
		}
		if !first {
			if !t.Comma {
				return true
			}
			rb.next()
			t = rb.peek()
		}
		var flag ir.NATFlags
		if t != nil {
			for _, f := range ir.NATFlagNames {
				if f.Name == t.word() {
					flag = f.Flag
				}
			}
		}
		if flag == 0 {
			if first {
				return true
			}
			at, to := rb.terms[rb.i-1].span()
			rb.errorf(at, to, "a comma after a nat flag needs another").Hint = "e.g. masquerade random,persistent"
			return false
		}
		rb.next()
		n.Flags |= flag
	}
}
