package iptables

import (
	"slices"
	"strings"
)

// Canonical writes an iptables rule ("-A CHAIN ..." as iptables -S or
// iptables-restore input has it) in one form for one meaning: the same
// rule written "-m udp --sport 67 --dport 68" or "-m udp --sport 67 -m
// udp --dport 68", or with its options in another order, gives the same
// string. Status compares rules this way, so that how iptables lists a
// rule back never reads as drift.
func Canonical(rule string) string {
	tokens := splitQuoted(rule)
	var head []string    // -A CHAIN
	var builtin []string // -s -d -i -o -p, each with its "!"
	modules := map[string][]string{}
	var target []string // -j and everything after it
	module := ""
	for i := 0; i < len(tokens); i++ {
		tok := tokens[i]
		switch {
		case tok == "-A" || tok == "-I":
			if i+1 < len(tokens) {
				head = append(head, tok, tokens[i+1])
				i++
			}
		case tok == "-j":
			target = tokens[i:]
			i = len(tokens)
		case tok == "-m":
			if i+1 < len(tokens) {
				module = tokens[i+1]
				if _, ok := modules[module]; !ok {
					modules[module] = nil
				}
				i++
			}
		default:
			opt, n := option(tokens[i:])
			i += n - 1
			if isBuiltin(opt) {
				builtin = append(builtin, opt)
				continue
			}
			modules[module] = append(modules[module], opt)
		}
	}
	// iptables-save's order: -s -d -i -o -p.
	slices.SortStableFunc(builtin, func(a, b string) int { return builtinRank(a) - builtinRank(b) })
	out := append([]string(nil), head...)
	out = append(out, builtin...)
	names := make([]string, 0, len(modules))
	for m := range modules {
		names = append(names, m)
	}
	slices.Sort(names)
	for _, m := range names {
		if m != "" {
			out = append(out, "-m", m)
		}
		opts := modules[m]
		slices.Sort(opts)
		out = append(out, opts...)
	}
	return strings.Join(append(out, target...), " ")
}

func builtinRank(opt string) int {
	return strings.Index("sdiop", strings.TrimPrefix(strings.TrimPrefix(opt, "! "), "-")[:1])
}

// isBuiltin reports whether an option is one of iptables' own (-s -d -i
// -o -p), which belong to no module.
func isBuiltin(opt string) bool {
	opt = strings.TrimPrefix(opt, "! ")
	for _, f := range []string{"-s ", "-d ", "-i ", "-o ", "-p "} {
		if strings.HasPrefix(opt, f) {
			return true
		}
	}
	return false
}

// option reads one option with its "!" and arguments from the start of
// tokens: everything up to the next token that starts an option.
func option(tokens []string) (string, int) {
	n := 1
	if tokens[0] == "!" && len(tokens) > 1 {
		n = 2
	}
	for n < len(tokens) && tokens[n] != "!" && !strings.HasPrefix(tokens[n], "-") {
		n++
	}
	return strings.Join(tokens[:n], " "), n
}

// splitQuoted splits a rule at spaces, keeping double-quoted texts (log
// prefixes, comments) whole, quotes included.
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}
