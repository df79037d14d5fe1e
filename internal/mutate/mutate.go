// Package mutate makes mutants of a policy's text for tests: each rule
// that ends in accept or drop taken out, its verdict turned round, or the
// first port it names moved by one.
// The tests hold that what ksc says of the difference between a policy
// and its mutant is so, in the simulation and in the kernel.
package mutate

import (
	"regexp"
	"strconv"
	"strings"
)

// port finds the first port a rule names, alone ("dport 22").
var port = regexp.MustCompile(`(dport|sport) (\d+)\b`)

// A Mutant is a policy's text with one line changed.
type Mutant struct {
	Line   int    // 1-based, of the line changed
	Change string // what was done to it
	Src    []byte
}

// Verdicts lists src's mutants: for each line that is a whole rule
// ending in accept or drop (no braces, no chain policy), the line taken
// out, the line with the other verdict, and where it names a port, the
// line with the port one higher.
func Verdicts(src []byte) []Mutant {
	lines := strings.Split(string(src), "\n")
	var out []Mutant
	for i, l := range lines {
		body := strings.TrimSpace(l)
		if strings.HasPrefix(body, "#") || strings.Contains(body, "{") || strings.Contains(body, "policy") {
			continue
		}
		var flipped string
		switch {
		case strings.HasSuffix(body, " accept"):
			flipped = strings.TrimSuffix(l, "accept") + "drop"
		case strings.HasSuffix(body, " drop"):
			flipped = strings.TrimSuffix(l, "drop") + "accept"
		default:
			continue
		}
		variants := []struct{ change, line string }{{"taken out", ""}, {"verdict turned round", flipped}}
		if m := port.FindStringSubmatchIndex(l); m != nil {
			n, _ := strconv.Atoi(l[m[4]:m[5]])
			variants = append(variants, struct{ change, line string }{"port moved", l[:m[4]] + strconv.Itoa(n+1) + l[m[5]:]})
		}
		for _, v := range variants {
			changed := append(append(append([]string{}, lines[:i]...), v.line), lines[i+1:]...)
			out = append(out, Mutant{Line: i + 1, Change: v.change, Src: []byte(strings.Join(changed, "\n"))})
		}
	}
	return out
}
