package iptables

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	goipt "github.com/coreos/go-iptables/iptables"
	"github.com/ksc-project/ksc/internal/linediff"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
)

// handle opens go-iptables for a mode and family: the system's iptables,
// or the nf_tables or legacy variant by name.
func handle(mode Mode, family ir.Family) (*goipt.IPTables, error) {
	proto := goipt.ProtocolIPv4
	if family == ir.IPv6 {
		proto = goipt.ProtocolIPv6
	}
	if mode != ModeNFT && mode != ModeLegacy {
		return goipt.New(goipt.IPFamily(proto))
	}
	path, err := exec.LookPath(tool(mode, family, ""))
	if err != nil {
		return nil, err
	}
	return goipt.New(goipt.IPFamily(proto), goipt.Path(path))
}

// Status compares the live filter tables (read with go-iptables, as
// "iptables -S" writes them) with the rules the policy compiles to. It
// returns a diff, "-" for live lines applying would remove and "+" for
// lines it would add, each after its tool ("iptables + -P INPUT DROP");
// empty means loaded.
func Status(p *ir.Policy, nsPath string, mode Mode) ([]string, error) {
	var out []string
	for _, family := range []ir.Family{ir.IPv4, ir.IPv6} {
		o, err := Render(p, family)
		if err != nil {
			return nil, err
		}
		sets, err := ipsetDiff(nsPath, o.Sets)
		if err != nil {
			return nil, err
		}
		out = append(out, sets...)
		if Owned(p) {
			have, err := ownedLive(nsPath, mode, family, Tables(p))
			if err != nil {
				return nil, err
			}
			out = append(out, ruleDiff(tool(ModeAuto, family, ""), have, ownedWant(o))...)
			continue
		}
		tables := Tables(p)
		want := map[string][]string{}
		table := ""
		for _, l := range strings.Split(string(o.Text), "\n") {
			if t, ok := strings.CutPrefix(l, "*"); ok {
				table = t
			}
			if name, policy, ok := chainPolicy(l); ok {
				if policy == "-" {
					want[table] = append(want[table], "-N "+name)
				} else {
					want[table] = append(want[table], "-P "+name+" "+policy)
				}
			}
			if strings.HasPrefix(l, "-A ") {
				want[table] = append(want[table], l)
			}
		}
		have := map[string][]string{}
		err = nsenter.Run(nsPath, func() error {
			ipt, err := handle(mode, family)
			if err != nil {
				return err
			}
			for _, t := range tables {
				chains, err := ipt.ListChains(t)
				if err != nil {
					return err
				}
				for _, chain := range chains {
					lines, err := ipt.List(t, chain)
					if err != nil {
						return err
					}
					have[t] = append(have[t], lines...)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		var haveAll, wantAll []string
		for _, t := range tables {
			// The nat and mangle tables' lines say so: their chains share
			// names with the filter table's.
			prefix := ""
			if t != "filter" {
				prefix = "-t " + t + " "
			}
			for _, l := range tableOrder(t, have[t]) {
				haveAll = append(haveAll, prefix+l)
			}
			for _, l := range tableOrder(t, want[t]) {
				wantAll = append(wantAll, prefix+l)
			}
		}
		name := tool(ModeAuto, family, "")
		out = append(out, ruleDiff(name, haveAll, wantAll)...)
	}
	return out, nil
}

// tableOrder puts "iptables -S" lines of a whole table in one order
// whatever the listing's: policies, then chain declarations by name, then
// rules chain by chain (builtin chains first, the others by name), each
// chain's rules as they were.
func tableOrder(table string, lines []string) []string {
	builtin := builtinsOf(table)
	kind := func(l string) int {
		switch {
		case strings.HasPrefix(l, "-P "):
			return 0
		case strings.HasPrefix(l, "-N "):
			return 1
		}
		return 2
	}
	chainRank := func(l string) string {
		f := strings.Fields(l)
		if len(f) < 2 {
			return ""
		}
		if i := slices.Index(builtin, f[1]); i >= 0 {
			return string(rune('0' + i))
		}
		return "9" + f[1]
	}
	out := slices.Clone(lines)
	slices.SortStableFunc(out, func(a, b string) int {
		if c := kind(a) - kind(b); c != 0 {
			return c
		}
		if kind(a) == 0 {
			return 0 // builtin chains in order, as listed and written
		}
		return strings.Compare(chainRank(a), chainRank(b))
	})
	return out
}

// ownedWant lists the rules of ksc's own chains as "iptables -S" writes
// them, and the jumps into them, each the first rule of its builtin chain
// ("-I OUTPUT 1 -j KSC-OUTPUT"), the rules first; outside the filter
// table after the table's name ("-t nat -A KSC-POSTROUTING ...").
func ownedWant(o *Output) []string {
	var rules, jumps []string
	table := ""
	for _, l := range strings.Split(string(o.Text), "\n") {
		if t, ok := strings.CutPrefix(l, "*"); ok {
			table = t
		}
		f := strings.Fields(l)
		switch {
		case strings.HasPrefix(l, "-A "):
			rules = append(rules, inTable(table, l))
		case len(f) == 5 && l == jumpLine(f[1]):
			jumps = append(jumps, inTable(table, l))
		}
	}
	return append(rules, jumps...) // as ownedLive lists them
}

// inTable writes a rule line as "iptables -S" lists it with -t.
func inTable(table, line string) string {
	if table == "filter" {
		return line
	}
	return "-t " + table + " " + line
}

// ownedLive lists the live rules of ksc's own chains in tables, and the
// jumps into them by their place in the builtin chain ("-I FORWARD 3 -j
// KSC-FORWARD" when another program's restart put two rules above it,
// which decide first); other programs' rules are no business of the
// policy's.
func ownedLive(nsPath string, mode Mode, family ir.Family, tables []string) ([]string, error) {
	var rules, jumps []string
	err := nsenter.Run(nsPath, func() error {
		ipt, err := handle(mode, family)
		if err != nil {
			return err
		}
		for _, table := range tables {
			for _, chain := range builtinsOf(table) {
				lines, err := ipt.List(table, chain)
				if err != nil {
					return err
				}
				n := 0
				for _, l := range lines {
					if !strings.HasPrefix(l, "-A ") {
						continue
					}
					n++
					if l == "-A "+chain+" -j "+ownChain(chain) {
						jumps = append(jumps, inTable(table, fmt.Sprintf("-I %s %d -j %s", chain, n, ownChain(chain))))
					}
				}
				exists, err := ipt.ChainExists(table, ownChain(chain))
				if err != nil || !exists {
					continue
				}
				lines, err = ipt.List(table, ownChain(chain))
				if err != nil {
					return err
				}
				for _, l := range lines {
					if strings.HasPrefix(l, "-A ") {
						rules = append(rules, inTable(table, l))
					}
				}
			}
		}
		return nil
	})
	return append(rules, jumps...), err
}

// RemoveOwned takes ksc's own chains out of both families' tables, and
// the jumps into them, leaving every other rule; when the second family
// fails, the first is put back.
func RemoveOwned(nsPath string, mode Mode) error {
	return RemoveOwnedWith(System{NSPath: nsPath}, mode)
}

// RemoveOwnedWith is RemoveOwned through tools.
func RemoveOwnedWith(tools Tools, mode Mode) error {
	return tools.Do(func(run RunFunc) error {
		var saved4 []byte
		for _, family := range []ir.Family{ir.IPv4, ir.IPv6} {
			// Every table there is: those without ksc's chains are left
			// out of the removal.
			saved, err := run(tool(mode, family, "-save"), nil)
			if err != nil {
				return err
			}
			if family == ir.IPv4 {
				saved4 = saved
			}
			_, err = run(tool(mode, family, "-restore"), removal(saved, withOwnChains(saved)), "--noflush")
			if err != nil && family == ir.IPv6 {
				if _, rerr := run(tool(mode, ir.IPv4, "-restore"), saved4); rerr != nil {
					return errors.Join(err, fmt.Errorf("and restoring the previous IPv4 rules failed: %w", rerr))
				}
				return fmt.Errorf("%w; the IPv4 rules are back as they were", err)
			}
			if err != nil {
				return err
			}
			if usesIPSets(saved) {
				defer destroyUnused(run, nil) // once both families' rules are out
			}
		}
		return nil
	})
}

// withOwnChains lists the tables of iptables-save output that hold one of
// ksc's own chains.
func withOwnChains(saved []byte) []string {
	var out []string
	for table, t := range parseSaved(saved) {
		for _, chain := range builtinsOf(table) {
			if _, ok := t.policies[ownChain(chain)]; ok {
				out = append(out, table)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// removal is the iptables-restore --noflush input that deletes, from each
// of tables in saved, each jump into ksc's chains and then the chains;
// nothing when tables is empty.
func removal(saved []byte, tables []string) []byte {
	var b strings.Builder
	lines := strings.Split(string(saved), "\n")
	for _, table := range tables {
		section := tableLines(lines, table)
		var own []string
		fmt.Fprintf(&b, "*%s\n", table)
		for _, chain := range builtinsOf(table) {
			if slices.ContainsFunc(section, func(l string) bool { return strings.HasPrefix(l, ":"+ownChain(chain)+" ") }) {
				own = append(own, ownChain(chain))
				fmt.Fprintf(&b, ":%s - [0:0]\n", ownChain(chain)) // empties it
			}
		}
		for _, chain := range builtinsOf(table) {
			for _, l := range section {
				if l == "-A "+chain+" -j "+ownChain(chain) {
					fmt.Fprintf(&b, "-D %s -j %s\n", chain, ownChain(chain))
				}
			}
		}
		for _, c := range own {
			fmt.Fprintf(&b, "-X %s\n", c)
		}
		b.WriteString("COMMIT\n")
	}
	return []byte(b.String())
}

// tableLines are the lines of one table in iptables-save output.
func tableLines(lines []string, table string) []string {
	var out []string
	in := false
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if t, ok := strings.CutPrefix(l, "*"); ok {
			in = t == table
			continue
		}
		if in {
			out = append(out, l)
		}
	}
	return out
}

// chainPolicy reads a ":INPUT DROP [0:0]" line.
func chainPolicy(line string) (name, policy string, ok bool) {
	f := strings.Fields(line)
	if len(f) != 3 || !strings.HasPrefix(f[0], ":") {
		return "", "", false
	}
	return f[0][1:], f[1], true
}

// Remove empties both families' tables (filter, and the nat and mangle
// tables when listed) and sets their policies to ACCEPT: the iptables
// targets own those tables whole, so that is what removing the policy
// means. Each family is replaced in one step by its restore tool; when the
// second fails, the first is put back, so that the machine is never left
// open in one family and closed in the other.
func Remove(nsPath string, mode Mode, tables []string) error {
	return RemoveWith(System{NSPath: nsPath}, mode, tables)
}

// emptyTable is a table ksc writes as iptables-save lists it with no
// rules: its builtin chains (tableChains), each with the policy ACCEPT.
func emptyTable(table string) string {
	var b strings.Builder
	b.WriteString("*" + table + "\n")
	for _, c := range chainsOfTable(table) {
		b.WriteString(":" + c.chain + " ACCEPT [0:0]\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// RemoveWith is Remove through tools.
func RemoveWith(tools Tools, mode Mode, tables []string) error {
	var empty []byte
	for _, t := range tables {
		empty = append(empty, emptyTable(t)...)
	}
	return tools.Do(func(run RunFunc) error {
		saved4, err := saveTables(run, mode, ir.IPv4, tables)
		if err != nil {
			return err
		}
		if _, err := run(tool(mode, ir.IPv4, "-restore"), empty); err != nil {
			return err
		}
		if _, err := run(tool(mode, ir.IPv6, "-restore"), empty); err != nil {
			if _, rerr := run(tool(mode, ir.IPv4, "-restore"), saved4); rerr != nil {
				return errors.Join(err, fmt.Errorf("and restoring the previous IPv4 rules failed: %w", rerr))
			}
			return fmt.Errorf("%w; the IPv4 rules are back as they were", err)
		}
		if usesIPSets(saved4) {
			destroyUnused(run, nil)
		}
		return nil
	})
}

// ruleDiff lists the rules only in have ("-") or only in want ("+"),
// comparing their meaning (see Canonical), each after its tool's name.
func ruleDiff(tool string, have, want []string) []string {
	canon := func(lines []string) []string {
		out := make([]string, len(lines))
		for i, l := range lines {
			out[i] = Canonical(l)
		}
		return out
	}
	h, w := canon(have), canon(want)
	var out []string
	for _, e := range linediff.Diff(len(h), len(w), func(i, j int) bool { return h[i] == w[j] }) {
		switch e.Op {
		case '-':
			out = append(out, fmt.Sprintf("%s - %s", tool, have[e.A]))
		case '+':
			out = append(out, fmt.Sprintf("%s + %s", tool, want[e.B]))
		}
	}
	return out
}
