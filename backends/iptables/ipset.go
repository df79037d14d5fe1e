package iptables

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// An IPSet is a named address set of the policy (a file() define) as an
// ipset of one family: iptables matches it with one rule however large it
// is ("-m set --match-set NAME src"), where writing one rule per element
// would check a blocklist address by address.
type IPSet struct {
	Name   string // ksc-NAME-4 or ksc-NAME-6
	Family ir.Family
	Nets   []netip.Prefix
	// Runtime marks a set the policy declares (set NAME { ... }): other
	// programs may add and delete elements once it is loaded ("ipset add
	// ksc-NAME-4 ..."), so status and diff do not compare them.
	Runtime bool
	// Pos is the match that uses it, for errors.
	Pos ir.Pos
}

// clashingSets finds two sets of one ipset name that are not the same set:
// sets of one name declared in two tables, or a declared set named as a
// file define. The iptables targets have one namespace of ipsets.
func clashingSets(sets []IPSet) *ir.Diagnostic {
	byName := map[string]IPSet{}
	for _, s := range sets {
		prev, seen := byName[s.Name]
		if !seen {
			byName[s.Name] = s
			continue
		}
		if prev.Runtime != s.Runtime || !slices.Equal(prev.Nets, s.Nets) {
			if s.Pos.File == prev.Pos.File && s.Pos.Offset < prev.Pos.Offset {
				prev, s = s, prev // the error at the later one, in source order
			}
			return &ir.Diagnostic{Pos: s.Pos, Message: fmt.Sprintf("the iptables target cannot hold this set and the one at %s as ipset %s: they are two sets of one name", prev.Pos, s.Name),
				Hint: "give the sets different names"}
		}
	}
	return nil
}

// ipsetPrefix marks the sets ksc owns; ipset names are at most 31 bytes.
const (
	ipsetPrefix  = "ksc-"
	maxIPSetName = 31
)

func ipsetName(define string, family ir.Family) string {
	suffix := "-4"
	if family == ir.IPv6 {
		suffix = "-6"
	}
	return ipsetPrefix + define + suffix
}

// ipsetMatch lowers a match on a named address set to an ipset match,
// and records the set in the output.
func ipsetMatch(lw *lowering, m *ir.Match, destination bool) *ir.Diagnostic {
	if m.Set != nil && m.Set.Dynamic {
		return &ir.Diagnostic{Pos: m.Pos, Message: "the iptables target cannot express " + m.Text() + ": ksc writes no ipset that rules fill",
			Hint: "use the nft target"}
	}
	name := ipsetName(m.SetName, lw.family)
	ref, what := "$"+m.SetName, "define"
	if m.Set != nil {
		ref, what = "@"+m.SetName, "set"
	}
	if len(stagingName(name)) > maxIPSetName {
		return &ir.Diagnostic{Pos: m.Pos, Message: fmt.Sprintf("the iptables target cannot name the set %s as an ipset: %q with its staging suffix is longer than %d characters", ref, stagingName(name), maxIPSetName),
			Hint: "give the " + what + " a shorter name"}
	}
	var nets []netip.Prefix
	for _, e := range ir.MergeRanges(ir.Addrs(m.Field.Spec().Kind, m.Values)) {
		from, to := e.From, e.To
		if e.Prefix.IsValid() {
			from, to = e.Prefix.Masked().Addr(), lastAddr(e.Prefix)
		}
		nets = append(nets, rangeNets(from, to)...)
	}
	for _, n := range nets {
		if n.Bits() == 0 {
			// hash:net cannot hold a /0; a set of every address is no
			// blocklist anyway.
			return &ir.Diagnostic{Pos: m.Pos, Message: fmt.Sprintf("the iptables target cannot express %s as an ipset: it holds every address (%s)", ref, n)}
		}
	}
	lw.sets = append(lw.sets, IPSet{Name: name, Family: lw.family, Nets: nets, Runtime: m.Set != nil, Pos: m.Pos})
	dir := "src"
	if destination {
		dir = "dst"
	}
	if m.Op == ir.Neq {
		lw.addMatches("-m", "set", "!", "--match-set", name, dir)
	} else {
		lw.addMatches("-m", "set", "--match-set", name, dir)
	}
	return nil
}

// lastAddr is the last address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As16()
	hostBits := p.Addr().BitLen() - p.Bits()
	offset := 128 - p.Addr().BitLen()
	for i := 127; i >= 128-hostBits && i >= offset; i-- {
		b[i/8] |= 1 << (7 - i%8)
	}
	if p.Addr().Is4() {
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return netip.AddrFrom16(b)
}

// rangeNets splits an address range into the fewest prefixes that cover
// exactly it.
func rangeNets(from, to netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	width := from.BitLen()
	for {
		// The largest prefix that starts at from and ends at or before to.
		bits := width - trailingZeros(from)
		for ; bits < width; bits++ {
			p := netip.PrefixFrom(from, bits)
			if p.Masked().Addr() == from && lastAddr(p).Compare(to) <= 0 {
				break
			}
		}
		p := netip.PrefixFrom(from, bits)
		out = append(out, p)
		last := lastAddr(p)
		if last.Compare(to) >= 0 || !last.Next().IsValid() {
			return out
		}
		from = last.Next()
	}
}

// trailingZeros counts the zero bits at the end of an address.
func trailingZeros(a netip.Addr) int {
	b := a.As16()
	n := 0
	for i := 15; i >= 16-a.BitLen()/8; i-- {
		if b[i] != 0 {
			return n + bits.TrailingZeros8(b[i])
		}
		n += 8
	}
	return n
}

// IPSetRestore is "ipset restore" input that fills each set. Where a set
// already exists (a re-apply), its new content goes into NAME-new, to be
// swapped in once the rules are in (see ipsetSwap); a new set is filled
// in place, since no rule refers to it yet.
func IPSetRestore(sets []IPSet, exists func(name string) bool) []byte {
	var b strings.Builder
	for _, s := range sets {
		family := "inet"
		if s.Family == ir.IPv6 {
			family = "inet6"
		}
		name := s.Name
		if exists(s.Name) {
			name = stagingName(s.Name)
		}
		// maxelem: the next power of two, at least ipset's default.
		maxelem := max(65536, 1<<bits.Len(uint(len(s.Nets))))
		fmt.Fprintf(&b, "create %s hash:net family %s maxelem %d -exist\nflush %s\n", name, family, maxelem, name)
		for _, n := range s.Nets {
			fmt.Fprintf(&b, "add %s %s\n", name, n)
		}
	}
	return []byte(b.String())
}

// stagingName is where a set's new content waits to be swapped in.
func stagingName(name string) string { return name + "-new" }

// uniqueSets keeps one IPSet of each name, in name order (two rules on the
// same define share it).
func uniqueSets(sets []IPSet) []IPSet {
	seen := map[string]bool{}
	var out []IPSet
	for _, s := range sets {
		if !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// RenderIPSets is the "ipset restore" input that creates and fills the
// policy's ipsets, both families', for loading by hand before the
// iptables and ip6tables targets.
func RenderIPSets(p *ir.Policy) ([]byte, error) {
	sets, err := policySets(p)
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf("# Generated by ksc from %q: edit the policy, not this file.\n# Load with: ipset restore < FILE, before the iptables and ip6tables rules.\n", p.Source)
	return append([]byte(header), IPSetRestore(sets, func(string) bool { return false })...), nil
}

// policySets are the ipsets of both families' rules.
func policySets(p *ir.Policy) ([]IPSet, error) {
	var sets []IPSet
	for _, f := range []ir.Family{ir.IPv4, ir.IPv6} {
		o, err := Render(p, f)
		if err != nil {
			return nil, err
		}
		sets = append(sets, o.Sets...)
	}
	return uniqueSets(sets), nil
}

// loadSets fills the policy's ipsets before its rules go in: new sets in
// place, existing ones in a staging set. The returned function finishes
// after the rules: it swaps the staged content in when they went in
// (commit), or drops it when they did not.
func loadSets(run RunFunc, sets []IPSet) (finish func(commit bool) error, err error) {
	if len(sets) == 0 {
		return func(bool) error { return nil }, nil
	}
	listed, err := run("ipset", nil, "list", "-n")
	if err != nil {
		return nil, err
	}
	existing := map[string]bool{}
	for _, n := range strings.Fields(string(listed)) {
		existing[n] = true
	}
	if _, err := run("ipset", IPSetRestore(sets, func(n string) bool { return existing[n] }), "restore"); err != nil {
		return nil, err
	}
	return func(commit bool) error {
		var b strings.Builder
		for _, s := range sets {
			if !existing[s.Name] {
				continue
			}
			if commit {
				fmt.Fprintf(&b, "swap %s %s\n", stagingName(s.Name), s.Name)
			}
			fmt.Fprintf(&b, "destroy %s\n", stagingName(s.Name))
		}
		if b.Len() == 0 {
			return nil
		}
		_, err := run("ipset", []byte(b.String()), "restore")
		return err
	}, nil
}

// destroyUnused destroys the ksc ipsets no rule uses any more, other than
// keep; one still in use (by an earlier policy's rules) stays.
func destroyUnused(run RunFunc, keep []IPSet) {
	listed, err := run("ipset", nil, "list", "-n")
	if err != nil {
		return
	}
	for _, n := range strings.Fields(string(listed)) {
		if strings.HasPrefix(n, ipsetPrefix) && !slicesContainsName(keep, n) {
			run("ipset", nil, "destroy", n) // fails, harmlessly, while referenced
		}
	}
}

func slicesContainsName(sets []IPSet, name string) bool {
	for _, s := range sets {
		if s.Name == name {
			return true
		}
	}
	return false
}

// ipsetDiff compares the live content of the policy's ipsets with what
// the policy puts in them: one line for each set that differs.
func ipsetDiff(nsPath string, sets []IPSet) ([]string, error) {
	var out []string
	for _, set := range sets {
		var saved []byte
		err := System{NSPath: nsPath}.Do(func(run RunFunc) error {
			var err error
			saved, err = run("ipset", nil, "save", set.Name)
			return err
		})
		if err != nil {
			out = append(out, fmt.Sprintf("ipset + %s (missing: %v)", set.Name, err))
			continue
		}
		if set.Runtime {
			continue // there is all that is the policy's
		}
		nets, err := savedNets(set.Name, saved)
		if err != nil {
			return nil, err
		}
		have := map[netip.Prefix]bool{}
		for _, p := range nets {
			have[p] = true
		}
		missing := 0
		for _, n := range set.Nets {
			if have[n] {
				delete(have, n)
			} else {
				missing++
			}
		}
		if missing > 0 || len(have) > 0 {
			out = append(out, fmt.Sprintf("ipset ~ %s: %d of the policy's elements missing, %d others present", set.Name, missing, len(have)))
		}
	}
	return out, nil
}

// savedNets reads the members of ipset name from "ipset save" output.
func savedNets(name string, saved []byte) ([]netip.Prefix, error) {
	var nets []netip.Prefix
	for _, line := range strings.Split(string(saved), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "add" {
			continue
		}
		p, err := netip.ParsePrefix(f[2])
		if err != nil {
			a, aerr := netip.ParseAddr(f[2]) // a host is listed without its /32 or /128
			if aerr != nil {
				return nil, fmt.Errorf("ipset %s: cannot read %q", name, line)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		nets = append(nets, p)
	}
	return nets, nil
}

// SetKeys is what the ipset of the set a policy declares holds, in the
// namespace at nsPath.
func SetKeys(nsPath, set string, kind ir.Kind) (ir.Set, error) {
	name := ipsetName(set, kind.Spec().Family)
	var keys ir.Set
	err := System{NSPath: nsPath}.Do(func(run RunFunc) error {
		saved, err := run("ipset", nil, "save", name)
		if err != nil {
			return fmt.Errorf("set %s is not in force as ipset %s (ksc apply the policy first): %w", set, name, err)
		}
		nets, err := savedNets(name, saved)
		var spans []ir.Span
		for _, p := range nets {
			spans = append(spans, ir.Span{Lo: ir.AddrKey(p.Masked().Addr()), Hi: ir.AddrKey(lastAddr(p))})
		}
		keys = ir.NewSet(spans...)
		return err
	})
	return keys, err
}

// ReplaceSet makes the ipset of the set a policy declares hold keys: they
// fill a staging set that is swapped in, so that a packet meets either
// what it held or keys.
func ReplaceSet(nsPath, set string, kind ir.Kind, keys ir.Set) error {
	family := kind.Spec().Family
	name := ipsetName(set, family)
	staged := IPSet{Name: name, Family: family}
	for _, e := range ir.Addrs(kind, keys.Joined()) {
		from, to := e.From, e.To
		if e.Prefix.IsValid() {
			from, to = e.Prefix.Masked().Addr(), lastAddr(e.Prefix)
		}
		staged.Nets = append(staged.Nets, rangeNets(from, to)...)
	}
	script := string(IPSetRestore([]IPSet{staged}, func(string) bool { return true }))
	script += fmt.Sprintf("swap %s %s\ndestroy %s\n", stagingName(name), name, stagingName(name))
	return System{NSPath: nsPath}.Do(func(run RunFunc) error {
		_, err := run("ipset", []byte(script), "restore")
		return err
	})
}
