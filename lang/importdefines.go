package lang

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// setLiteral is a set written in a rule, after the selector it is of:
// "tcp dport { 22, 80 }". No nested braces, no map's colons.
var setLiteral = regexp.MustCompile(`((?:[a-z0-9]+ )?[a-z0-9]+) (!= )?(\{ [^{}:]+ \})`)

// defined finds the defines a policy has.
var defined = regexp.MustCompile(`(?m)^define ([A-Za-z0-9_]+)`)

// withDefines is an imported policy with each set literal that its
// rules repeat named once by a define at the top ("define TCP_DPORT =
// { 22, 80 }") and written as $TCP_DPORT: how a person writes it, and
// one place to change it. The policy must mean the same: when the
// result does not render the same nft text, out is the policy as it
// came.
func withDefines(filename string, out []byte) []byte {
	uses := map[string]int{}
	var order []string
	var lines []string
	for _, line := range strings.Split(string(out), "\n") {
		lines = append(lines, line)
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.Contains(line, "elements = ") {
			continue
		}
		for _, m := range setLiteral.FindAllStringSubmatch(line, -1) {
			if uses[m[3]] == 0 {
				order = append(order, m[3])
			}
			uses[m[3]]++
		}
	}
	names := map[string]string{}
	taken := map[string]bool{}
	for _, m := range defined.FindAllStringSubmatch(string(out), -1) {
		taken[m[1]] = true
	}
	var defines bytes.Buffer
	for _, set := range order {
		if uses[set] < 2 {
			continue
		}
		name := defineName(selectorOf(string(out), set), taken)
		names[set] = name
		fmt.Fprintf(&defines, "define %s = %s\n", name, set)
	}
	if len(names) == 0 {
		return out
	}
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.Contains(line, "elements = ") {
			continue
		}
		for set, name := range names {
			line = strings.ReplaceAll(line, " "+set, " $"+name)
		}
		lines[i] = line
	}
	// Beside the ruleset's own defines, or at the top.
	at, block := 0, defines.String()+"\n"
	for i, line := range lines {
		if strings.HasPrefix(line, "define ") {
			at, block = i+1, strings.TrimSuffix(defines.String(), "\n")
		}
	}
	lines = append(lines[:at], append([]string{block}, lines[at:]...)...)
	result := []byte(strings.Join(lines, "\n"))
	formatted, ds := Format(filename, result)
	if ds.HasErrors() || !sameMeaning(filename, out, formatted) {
		return out
	}
	return formatted
}

// selectorOf is the selector the first use of set follows in src.
func selectorOf(src, set string) string {
	for _, m := range setLiteral.FindAllStringSubmatch(src, -1) {
		if m[3] == set {
			return m[1]
		}
	}
	return "set"
}

// defineName makes a define's name of a selector ("tcp dport" gives
// TCP_DPORT, then TCP_DPORT_2), one not taken.
func defineName(selector string, taken map[string]bool) string {
	base := strings.ToUpper(strings.NewReplacer(" ", "_", "-", "_").Replace(selector))
	name := base
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	taken[name] = true
	return name
}

// sameMeaning reports whether two texts of a policy load to the same
// tables, chains and rules.
func sameMeaning(filename string, a, b []byte) bool {
	pa, da := Load(filename, a, Config{})
	pb, db := Load(filename, b, Config{})
	if da.HasErrors() || db.HasErrors() {
		return false
	}
	return policyText(pa) == policyText(pb)
}

// policyText is what a policy's rules say, without positions: their
// tables, chains, matches and verdicts.
func policyText(p *ir.Policy) string {
	var b strings.Builder
	for _, t := range p.Tables {
		fmt.Fprintf(&b, "table %s %s\n", t.Family, t.Name)
		for _, c := range t.Chains {
			fmt.Fprintf(&b, " chain %s %s %d %s\n", c.Name, c.Hook, c.Priority, c.Policy)
			for _, r := range c.Rules {
				for _, m := range r.Matches {
					b.WriteString("  " + m.Text())
				}
				fmt.Fprintf(&b, " %d %s\n", len(r.Statements), r.VerdictText())
			}
		}
	}
	return b.String()
}
