package iptables

import (
	"bytes"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// iptables-nft-restore replaces a whole table (its input without
// --noflush) by deleting the table and creating it again in one
// transaction, and the kernel hooks a new base chain with the policy
// accept until the commit is done: re-applying an unchanged kill switch
// let flooded packets through (5 in 150 re-applies). Apply therefore
// changes the tables in place, under --noflush: every builtin chain is
// flushed and filled again in the same transaction, the user chains the
// policy declares are flushed, and those it does not are deleted. A
// policy that turns a builtin chain's policy to DROP has it set first, in
// a restore of its own, since the kernel sets a changed policy only after
// the new rules are in force. (iptables-legacy-restore replaces a table in
// one step in either form.)

// savedTable is a table as iptables-save lists it: its chains' policies
// ("-" for a user chain).
type savedTable struct {
	policies map[string]string
	order    []string // chains, as listed
}

// parseSaved reads iptables-save's output, by table.
func parseSaved(saved []byte) map[string]*savedTable {
	tables := map[string]*savedTable{}
	var cur *savedTable
	for _, l := range strings.Split(string(saved), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "*"):
			cur = &savedTable{policies: map[string]string{}}
			tables[l[1:]] = cur
		case strings.HasPrefix(l, ":") && cur != nil:
			f := strings.Fields(l[1:])
			if len(f) >= 2 {
				cur.policies[f[0]] = f[1]
				cur.order = append(cur.order, f[0])
			}
		}
	}
	return tables
}

// inPlace rewrites text, restore input that replaces whole tables (with
// lines, the policy position of each of its lines), into input that
// changes them in place under --noflush, given the tables as they are now
// (saved).
func inPlace(text []byte, lines []ir.Pos, saved []byte) ([]byte, []ir.Pos) {
	now := parseSaved(saved)
	var out bytes.Buffer
	var outLines []ir.Pos
	emit := func(l string, pos ir.Pos) {
		out.WriteString(l)
		out.WriteByte('\n')
		outLines = append(outLines, pos)
	}
	var table string
	var declared []string
	cleared := false
	clear := func() {
		if cleared {
			return
		}
		cleared = true
		wanted := map[string]bool{}
		for _, c := range declared {
			emit("-F "+c, ir.Pos{})
			wanted[c] = true
		}
		var gone []string
		if t := now[table]; t != nil {
			for _, c := range t.order {
				if t.policies[c] == "-" && !wanted[c] {
					gone = append(gone, c)
					emit("-F "+c, ir.Pos{})
				}
			}
		}
		for _, c := range gone {
			emit("-X "+c, ir.Pos{})
		}
	}
	for i, l := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
		pos := ir.Pos{}
		if i < len(lines) {
			pos = lines[i]
		}
		trimmed := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(trimmed, "*"):
			table, declared, cleared = trimmed[1:], nil, false
		case strings.HasPrefix(trimmed, ":"):
			if f := strings.Fields(trimmed[1:]); len(f) > 0 {
				declared = append(declared, f[0])
			}
		case trimmed == "COMMIT" || strings.HasPrefix(trimmed, "-"):
			clear()
		}
		emit(l, pos)
	}
	return out.Bytes(), outLines
}

// tightening is the restore input (for --noflush) that sets to DROP,
// before anything else changes, each builtin chain whose policy text
// makes DROP and that accepts now; nil when there is none.
func tightening(text []byte, saved []byte) []byte {
	now := parseSaved(saved)
	var out bytes.Buffer
	var table string
	var chains []string
	flush := func() {
		if len(chains) == 0 {
			return
		}
		out.WriteString("*" + table + "\n")
		for _, c := range chains {
			out.WriteString(":" + c + " DROP [0:0]\n")
		}
		out.WriteString("COMMIT\n")
		chains = nil
	}
	for _, l := range strings.Split(string(text), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "*"):
			flush()
			table = l[1:]
		case strings.HasPrefix(l, ":"):
			f := strings.Fields(l[1:])
			if len(f) >= 2 && f[1] == "DROP" {
				if t := now[table]; t != nil && t.policies[f[0]] == "ACCEPT" {
					chains = append(chains, f[0])
				}
			}
		}
	}
	flush()
	if out.Len() == 0 {
		return nil
	}
	return out.Bytes()
}
