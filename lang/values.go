package lang

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ksc-project/ksc/ir"
)

// elem is one scalar of a resolved value, with where it was written and,
// when it came through $NAME, where that name was used.
type elem struct {
	text     string
	quoted   bool
	fromFile bool     // read from a file("...") value
	pos      ir.Pos   // where the text starts; its end follows from the text
	use      *useSite // nil unless it came through $NAME
}

// end is the position just after the element's text (and quotes). Not
// stored: a blocklist holds a million elements.
func (e elem) end() ir.Pos {
	end := e.pos
	end.Col += utf8.RuneCountInString(e.text)
	end.Offset += len(e.text)
	if e.quoted {
		end.Col += 2
		end.Offset += 2
	}
	return end
}

// useSite is the $NAME in a rule that a value came through; all of the
// value's elements share one.
type useSite struct {
	name     string
	pos, end ir.Pos
}

// where returns the range to blame when the element is the wrong kind for its
// use: the $NAME in the rule when there is one, the literal otherwise.
func (e elem) where() (ir.Pos, ir.Pos) {
	if e.use != nil {
		return e.use.pos, e.use.end
	}
	return e.pos, e.end()
}

// kind names what an element looks like, for "expected X, found Y" messages.
func (e elem) kind() string {
	if e.quoted {
		return "a string"
	}
	t := e.text
	if _, err := netip.ParseAddr(t); err == nil {
		return "an address"
	}
	if _, err := netip.ParsePrefix(t); err == nil {
		return "a prefix"
	}
	if a, b, ok := strings.Cut(t, "-"); ok {
		if _, err := netip.ParseAddr(a); err == nil {
			if _, err := netip.ParseAddr(b); err == nil {
				return "an address range"
			}
		}
	}
	if isNumber(t) {
		return "a number"
	}
	if a, b, ok := strings.Cut(t, "-"); ok && isNumber(a) && isNumber(b) {
		return "a range"
	}
	return "a name"
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (e elem) describe() string {
	if e.use != nil {
		return fmt.Sprintf("$%s holds %s (%s)", e.use.name, e.kind(), e.text)
	}
	return fmt.Sprintf("found %s (%s)", e.kind(), e.text)
}

// parseAddrElem parses an address, a prefix or an inclusive range.
func parseAddrElem(e elem) (ir.AddrElem, string, string) {
	if e.quoted {
		return ir.AddrElem{}, "expected an address, " + e.describe(), "addresses are written without quotes"
	}
	a, msg, hint := ir.ParseAddrElem(e.text)
	switch {
	case msg == "":
		a.Pos = e.pos
	case msg == ir.NotAnAddress && e.kind() == "a name" && strings.ContainsAny(e.text, ".:"):
		msg, hint = fmt.Sprintf("malformed address %q", e.text), "ksc takes addresses, not host names: nothing may be resolved outside the tunnel"
	case msg == ir.NotAnAddress:
		msg = "expected an address, " + e.describe()
	}
	return a, msg, hint
}

// editDistance is the Levenshtein distance, for "did you mean" hints.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// closest returns the candidate nearest to name, if any is near enough to be
// a plausible typo.
func closest(name string, candidates []string) (string, bool) {
	best, bestDist := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, best != "" && bestDist <= max(2, len(name)/3)
}

// values turns elements into a set of the field's kind, reporting each
// element that is not of that kind at its own position.
func (rb *ruleBuilder) values(sel *ir.Selector, kind ir.Kind, elems []elem) (ir.Set, bool) {
	switch kind.Spec().Shape {
	case ir.ShapeName:
		return rb.interfaces(sel, elems)
	case ir.ShapePath:
		return rb.cgroups(sel, elems)
	case ir.ShapeAddr:
		return rb.addresses(sel, kind, elems)
	}
	return rb.numbers(sel, kind, elems)
}

// badElement reports an element that did not parse: a malformed value at
// its own position, a value of the wrong kind ("expected ...") at the
// $NAME it came through. It returns true when the caller should stop, so
// that a wrong-kind $NAME is reported once.
func (rb *ruleBuilder) badElement(e elem, msg, hint string) bool {
	p, end := e.pos, e.end()
	if strings.HasPrefix(msg, "expected") {
		p, end = e.where()
	}
	rb.errorf(p, end, "%s", msg).Hint = hint
	return e.use != nil && p == e.use.pos
}

// wrongKind reports an element of the wrong kind; it returns true when
// the caller should stop, so that a wrong-kind $NAME is reported once.
func (rb *ruleBuilder) wrongKind(e elem, format string, args ...any) (*ir.Diagnostic, bool) {
	p, end := e.where()
	return rb.errorf(p, end, format, args...), e.use != nil
}

func (rb *ruleBuilder) interfaces(sel *ir.Selector, elems []elem) (ir.Set, bool) {
	var names []string
	ok := true
	for _, e := range elems {
		if k := e.kind(); k != "a name" && k != "a string" && k != "a number" {
			ok = false
			if _, stop := rb.wrongKind(e, "%s needs interface names, %s", sel.Words, e.describe()); stop {
				break
			}
			continue
		}
		if err := ir.CheckInterfaceName(e.text); err != nil {
			at, end := e.where()
			if e.use == nil || e.fromFile {
				at, end = e.pos, e.end()
			}
			rb.errorf(at, end, "%v", err).Hint = interfaceHint(e.text)
			ok = false
			continue
		}
		if sel.Field.Spec().ByIndex && strings.HasSuffix(e.text, "*") {
			at, end := e.where()
			rb.errorf(at, end, "%s matches one interface by its index: %q is a wildcard", sel.Words, e.text).Hint =
				"write " + sel.Field.String() + "name " + strconv.Quote(e.text) + ", which matches names"
			ok = false
			continue
		}
		if slices.Contains(names, e.text) {
			rb.ds.Warnf(e.pos, "%q appears twice in this set", e.text)
			continue
		}
		names = append(names, e.text)
	}
	return ir.InterfaceSet(names...), ok
}

// cgroups reads cgroup paths, each as deep as the level the selector
// names: socket cgroupv2 at a level compares the cgroup there with the
// path, so a path of another depth would never be matched.
func (rb *ruleBuilder) cgroups(sel *ir.Selector, elems []elem) (ir.Set, bool) {
	var paths []string
	ok := true
	level := sel.Field.CgroupLevel()
	for _, e := range elems {
		if k := e.kind(); k != "a name" && k != "a string" {
			ok = false
			if _, stop := rb.wrongKind(e, "%s needs cgroup paths, %s", sel.Words, e.describe()); stop {
				break
			}
			continue
		}
		at, end := e.where()
		if e.use == nil || e.fromFile {
			at, end = e.pos, e.end()
		}
		path := strings.TrimPrefix(e.text, "/")
		if rb.cgroupRoot != "" {
			path = strings.TrimPrefix(path, rb.cgroupRoot+"/") // as nft lists it
		}
		if err := ir.CheckCgroupPath(path); err != nil {
			rb.errorf(at, end, "%v", err).Hint = `write the path below the cgroup2 root, as nft does: "user.slice/app.slice"`
			ok = false
			continue
		}
		if d := ir.CgroupDepth(path); d != level {
			hint := fmt.Sprintf("write socket cgroupv2 level %d %q, which holds for that cgroup and every cgroup below it", d, path)
			if d > ir.MaxCgroupLevel {
				hint = fmt.Sprintf("ksc matches cgroups at most %d levels deep", ir.MaxCgroupLevel)
			}
			rb.errorf(at, end, "%q is %d levels deep, not %d: %s would never hold", path, d, level, sel.Words).Hint = hint
			ok = false
			continue
		}
		if slices.Contains(paths, path) {
			rb.ds.Warnf(e.pos, "%q appears twice in this set", path)
			continue
		}
		paths = append(paths, path)
	}
	if len(paths) > 1 {
		// iptables' cgroup match takes one path, and google/nftables
		// marks an anonymous set's keys big-endian, so that nft would
		// list a set of ids sent by netlink byte-swapped.
		at, end := elems[1].where()
		rb.errorf(at, end, "%s matches one cgroup a rule", sel.Words).Hint = "write a rule for each cgroup, or one cgroup above them all"
		ok = false
	}
	return ir.CgroupSet(paths...), ok
}

func interfaceHint(name string) string {
	if strings.Contains(name, "+") {
		return fmt.Sprintf("the wildcard is '*', as in nft: %q matches every interface whose name starts with %q",
			strings.ReplaceAll(name, "+", "")+"*", strings.ReplaceAll(name, "+", ""))
	}
	return ""
}

func (rb *ruleBuilder) addresses(sel *ir.Selector, kind ir.Kind, elems []elem) (ir.Set, bool) {
	family, other := kind.Spec().Family, "ip6"
	if family == ir.IPv6 {
		other = "ip"
	}
	spans := make([]ir.Span, 0, len(elems))
	ok := true
	for _, e := range elems {
		a, msg, hint := parseAddrElem(e)
		if msg != "" {
			ok = false
			if rb.badElement(e, msg, hint) {
				break
			}
			continue
		}
		if a.Family() != family {
			d, _ := rb.wrongKind(e, "%s needs %s, %s", sel.Words, kind, e.describe())
			d.Hint = fmt.Sprintf("use %s saddr / %s daddr for %s", other, other, map[ir.Family]string{ir.IPv4: "IPv6 addresses", ir.IPv6: "IPv4 addresses"}[family])
			ok = false
			continue
		}
		spans = append(spans, ir.Span{Lo: ir.AddrKey(a.From), Hi: ir.AddrKey(a.To)})
	}
	// Only a literal set warns about overlaps (a file set may hold a million
	// elements), and only one whose spans do not already ascend apart: the
	// elements are parsed again then, to name them and their positions.
	if ok && !fromOneFile(elems) && !ascendApart(spans) {
		addrs := make([]ir.AddrElem, len(elems))
		for i, e := range elems {
			addrs[i], _, _ = parseAddrElem(e)
		}
		warnOverlaps(&rb.ds, addrs)
	}
	return ir.OwnSet(spans), ok
}

// ascendApart reports whether each span starts above the end of the one
// before it: then no two overlap.
func ascendApart(spans []ir.Span) bool {
	for i := 1; i < len(spans); i++ {
		if spans[i].Lo.Compare(spans[i-1].Hi) <= 0 {
			return false
		}
	}
	return true
}

func fromOneFile(elems []elem) bool {
	return len(elems) > 0 && elems[0].fromFile && elems[len(elems)-1].fromFile
}

// warnOverlaps warns about elements that repeat or overlap: likely typos,
// though ksc merges them (the kernel refuses overlapping elements).
func warnOverlaps(ds *ir.Diagnostics, sorted []ir.AddrElem) {
	slices.SortStableFunc(sorted, func(a, b ir.AddrElem) int { return a.From.Compare(b.From) })
	var maxElem ir.AddrElem
	for i, e := range sorted {
		if i > 0 && !maxElem.To.Less(e.From) {
			if e.From == maxElem.From && e.To == maxElem.To {
				ds.Warnf(e.Pos, "%s appears twice in this set", e).Hint = "the first is at " + maxElem.Pos.String()
			} else {
				ds.Warnf(e.Pos, "%s overlaps %s in the same set", e, maxElem).Hint = "ksc merges them; write the set without the overlap"
			}
		}
		if i == 0 || maxElem.To.Less(e.To) {
			maxElem = e
		}
	}
}
