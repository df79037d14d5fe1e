package lang

import (
	"fmt"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// Import reads a ruleset written in nft's syntax (a file for nft -f, or
// what "nft list ruleset" prints) and returns it as a policy in ksc's
// layout (Format). A rule the language cannot say is left out, as a
// comment that names it and why ("# ksc import: not imported: ..."):
// never a different rule. Skipped are those rules' first errors. Anything
// else the language cannot say (a table, a chain, a set) is an error.
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
		commented := map[*Rule]bool{}
		for _, d := range lds {
			if d.Severity != ir.Error {
				continue
			}
			r := ruleAt(f, d.Pos.Line)
			if r == nil {
				return nil, skipped, lds
			}
			if commented[r] {
				continue
			}
			commented[r] = true
			skipped = append(skipped, d)
			first, last := r.Pos.Line-1, max(r.EndPos.Line, r.Pos.Line)-1
			text := strings.Join(strings.Fields(strings.Join(lines[first:last+1], " ")), " ")
			indent := lines[first][:len(lines[first])-len(strings.TrimLeft(lines[first], " \t"))]
			lines[first] = fmt.Sprintf("%s# ksc import: not imported (%s): %s", indent, oneLine(d.Message), text)
			for i := first + 1; i <= last; i++ {
				lines[i] = indent + "#"
			}
		}
		cur = []byte(strings.Join(lines, "\n"))
	}
	out, ds = Format(filename, cur)
	return out, skipped, ds
}

// ruleAt is the rule of f that line is in, or nil.
func ruleAt(f *File, line int) *Rule {
	var found *Rule
	in := func(rs []*Rule) {
		for _, r := range rs {
			if r.Pos.Line <= line && line <= max(r.EndPos.Line, r.Pos.Line) {
				found = r
			}
		}
	}
	for _, it := range f.Items {
		if it.Table == nil {
			continue
		}
		for _, c := range it.Table.Chains() {
			for _, ci := range c.Items {
				switch {
				case ci.Rule != nil:
					in([]*Rule{ci.Rule})
				case ci.Option != nil:
					in(ci.Option.Rules)
					if ci.Option.Else != nil {
						in(ci.Option.Else.Rules)
					}
				}
			}
		}
	}
	return found
}

// oneLine keeps a message on the comment's line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
