package lang

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// Import reads a ruleset written in nft's syntax (a file for nft -f, or
// what "nft list ruleset" prints) and returns it as a policy in ksc's
// layout (Format). A rule the language cannot say is left out, as a
// comment that names it and why ("# ksc import: not imported (...)"),
// never a different rule; so is a chain it cannot hook, or a table of a
// family it has no tables of, whole. Skipped are their first errors; a
// chain with no rules that accepts is left out without one, since the
// policy without it is the ruleset.
// Anything else it cannot say (a set, a syntax error) is an error.
func Import(filename string, src []byte) (out []byte, skipped ir.Diagnostics, ds ir.Diagnostics) {
	cur := src
	for {
		f, pds := Parse(filename, cur)
		if pds.HasErrors() {
			return nil, skipped, pds
		}
		_, lds := Load(filename, cur, Config{})
		if !lds.HasErrors() {
			break
		}
		lines := strings.Split(string(cur), "\n")
		left, stuck := leaveOut(f, lines, lds.OnlyErrors())
		if stuck != nil {
			return nil, skipped, lds
		}
		for _, l := range left {
			if !emptyChainAt(f, l.first) {
				// An empty chain that accepts is no loss: the policy
				// without it is the ruleset (iptables-nft's nat INPUT).
				skipped = append(skipped, l.why)
			}
		}
		cur = []byte(strings.Join(lines, "\n"))
	}
	out, ds = Format(filename, cur)
	if ds.HasErrors() {
		return nil, skipped, ds
	}
	return withDefines(filename, out), skipped, ds
}

// blockAt is the lines of what an error at line is about, when the
// import can leave it out: the rule it is in, or a chain or a table
// whose header it is on (a family ksc has no tables of, a chain it
// cannot hook).
func blockAt(f *File, line int) (first, last int, ok bool) {
	for _, it := range f.Items {
		t := it.Table
		if t == nil || line < t.Pos.Line || line > max(t.EndPos.Line, t.Pos.Line) {
			continue
		}
		for _, c := range t.Chains() {
			if line < c.Pos.Line || line > max(c.EndPos.Line, c.Pos.Line) {
				continue
			}
			for _, r := range chainRules(c) {
				if r.Pos.Line <= line && line <= max(r.EndPos.Line, r.Pos.Line) {
					if header(r) {
						return c.Pos.Line, c.EndPos.Line, true
					}
					return r.Pos.Line, max(r.EndPos.Line, r.Pos.Line), true
				}
			}
			if line == c.Pos.Line || len(c.Items) == 0 || line < firstItemLine(c) {
				return c.Pos.Line, c.EndPos.Line, true
			}
			return 0, 0, false
		}
		if line == t.Pos.Line {
			return t.Pos.Line, t.EndPos.Line, true
		}
	}
	return 0, 0, false
}

// header reports a chain's header written as nft writes it, inside its
// braces ("type filter hook input priority 0; policy drop;").
func header(r *Rule) bool {
	return len(r.Terms) > 0 && (r.Terms[0].word() == "type" || r.Terms[0].word() == "policy")
}

// chainRules are a chain's rules, those of its options too.
func chainRules(c *Chain) []*Rule {
	var out []*Rule
	for _, ci := range c.Items {
		switch {
		case ci.Rule != nil:
			out = append(out, ci.Rule)
		case ci.Option != nil:
			out = append(out, ci.Option.Rules...)
			if ci.Option.Else != nil {
				out = append(out, ci.Option.Else.Rules...)
			}
		}
	}
	return out
}

func firstItemLine(c *Chain) int {
	if ci := c.Items[0]; ci.Rule != nil {
		return ci.Rule.Pos.Line
	}
	return c.Items[0].Option.Pos.Line
}

// leftOut is a block leaveOut commented out: its first line, and the
// error that was about it.
type leftOut struct {
	first int
	why   ir.Diagnostic
}

// leaveOut comments out of lines the block each error is about (blockAt),
// once, with the error's message: an error inside a block already left
// out (a rule of a table) adds nothing. stuck is an error no block holds.
func leaveOut(f *File, lines []string, errs ir.Diagnostics) (left []leftOut, stuck *ir.Diagnostic) {
	var done [][2]int
	for _, d := range errs {
		first, last, ok := blockAt(f, d.Pos.Line)
		if !ok {
			return left, &d
		}
		if slices.ContainsFunc(done, func(b [2]int) bool { return b[0] <= first && last <= b[1] }) {
			continue
		}
		done = append(done, [2]int{first, last})
		why := oneLine(d.Message)
		if emptyChainAt(f, first) {
			why = "it has no rules and accepts: " + why
		}
		commentOut(lines, first-1, last-1, why)
		left = append(left, leftOut{first, d})
	}
	return left, nil
}

// commentOut makes lines[first..last] a comment: one line that names
// what is left out and why, then the lines as they were, each commented.
func commentOut(lines []string, first, last int, why string) {
	indent := lines[first][:len(lines[first])-len(strings.TrimLeft(lines[first], " \t"))]
	if first == last {
		text := strings.Join(strings.Fields(lines[first]), " ")
		lines[first] = fmt.Sprintf("%s# ksc import: not imported (%s): %s", indent, why, text)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s# ksc import: not imported (%s):", indent, why)
	for i := first; i <= last; i++ {
		b.WriteString("\n" + indent + "# " + strings.TrimPrefix(lines[i], indent))
		lines[i] = ""
	}
	lines[first] = b.String()
}

// oneLine keeps a message on the comment's line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
