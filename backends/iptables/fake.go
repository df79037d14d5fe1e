package iptables

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Fake is an in-memory stand-in for the iptables tools. It keeps tables as
// the restore tools leave them: a restore replaces the tables of its input
// whole, or with --noflush applies its lines to them (chain policies and
// declarations, -A, -I, -D, -F, -X), all or nothing, as the real tools do;
// a -save prints them in iptables-save's form. Fail makes the named tools
// fail; Calls records every command, in order.
type Fake struct {
	// Tables holds what each -save tool prints, by the -save tool's name:
	// set it to start from a ruleset; a restore writes it.
	Tables map[string][]byte
	// Fail makes the named tools fail with that error.
	Fail map[string]error
	// Refuse makes the named restore tools refuse the first line that
	// holds the text, as "line N failed", changing nothing.
	Refuse map[string]string
	Calls  []FakeCall
}

// FakeCall is one command the Fake ran.
type FakeCall struct {
	Name  string
	Args  []string
	Stdin []byte
}

// Do calls fn with the Fake's runner.
func (f *Fake) Do(fn func(run RunFunc) error) error { return fn(f.run) }

func (f *Fake) run(name string, stdin []byte, args ...string) ([]byte, error) {
	f.Calls = append(f.Calls, FakeCall{Name: name, Args: args, Stdin: stdin})
	if err := f.Fail[name]; err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if f.Tables == nil {
		f.Tables = map[string][]byte{}
	}
	save, isRestore := strings.CutSuffix(name, "-restore")
	if !isRestore {
		if i := slices.Index(args, "-t"); i >= 0 && i+1 < len(args) {
			return fakeParse(f.Tables[name]).print(args[i+1]), nil
		}
		return f.Tables[name], nil
	}
	if text, ok := f.Refuse[name]; ok {
		for n, l := range strings.Split(string(stdin), "\n") {
			if strings.Contains(l, text) {
				return nil, fmt.Errorf("%s: line %d failed", name, n+1)
			}
		}
	}
	tables := fakeParse(f.Tables[save+"-save"])
	if err := tables.restore(stdin, slices.Contains(args, "--noflush")); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !slices.Contains(args, "--test") {
		f.Tables[save+"-save"] = tables.print("")
	}
	return nil, nil
}

// fakeTables are tables by name, each its chains in order.
type fakeTables struct {
	order  []string
	tables map[string]*fakeTable
}

type fakeTable struct {
	chains   []string
	policies map[string]string // "-" for a user chain
	rules    map[string][]string
}

func newFakeTable() *fakeTable {
	return &fakeTable{policies: map[string]string{}, rules: map[string][]string{}}
}

var fakeCounters = regexp.MustCompile(` \[\d+:\d+\]$`)

func fakeParse(saved []byte) *fakeTables {
	ts := &fakeTables{tables: map[string]*fakeTable{}}
	var cur *fakeTable
	for _, l := range strings.Split(string(saved), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "*"):
			cur = newFakeTable()
			ts.order = append(ts.order, l[1:])
			ts.tables[l[1:]] = cur
		case strings.HasPrefix(l, ":") && cur != nil:
			f := strings.Fields(fakeCounters.ReplaceAllString(l[1:], ""))
			if len(f) == 2 {
				cur.chains = append(cur.chains, f[0])
				cur.policies[f[0]] = f[1]
			}
		case strings.HasPrefix(l, "-A ") && cur != nil:
			f := strings.Fields(l)
			cur.rules[f[1]] = append(cur.rules[f[1]], l)
		}
	}
	return ts
}

// restore applies a restore input: each table it names is replaced, or
// with noflush changed, and nothing at all on an error.
func (ts *fakeTables) restore(input []byte, noflush bool) error {
	next := fakeParse(ts.print(""))
	var cur *fakeTable
	for n, l := range strings.Split(string(input), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || l == "COMMIT" {
			continue
		}
		if err := next.apply(&cur, l, noflush); err != nil {
			return fmt.Errorf("line %d failed: %v", n+1, err)
		}
	}
	*ts = *next
	return nil
}

func (ts *fakeTables) apply(cur **fakeTable, l string, noflush bool) error {
	if name, ok := strings.CutPrefix(l, "*"); ok {
		t := ts.tables[name]
		if t == nil || !noflush {
			// A table comes with its builtin chains, as the kernel's.
			t = fakeParse([]byte(emptyTable(name))).tables[name]
			if t == nil || !noflush {
				t = newFakeTable()
			}
			if ts.tables[name] == nil {
				ts.order = append(ts.order, name)
			}
			ts.tables[name] = t
		}
		*cur = t
		return nil
	}
	t := *cur
	if t == nil {
		return fmt.Errorf("no table")
	}
	f := strings.Fields(fakeCounters.ReplaceAllString(l, ""))
	if strings.HasPrefix(l, ":") {
		name, policy := f[0][1:], f[1]
		if _, ok := t.policies[name]; !ok {
			t.chains = append(t.chains, name)
		} else if policy == "-" {
			t.rules[name] = nil // a declared user chain is flushed
		}
		t.policies[name] = policy
		return nil
	}
	if len(f) < 2 {
		return fmt.Errorf("bad line %q", l)
	}
	chain := f[1]
	if _, ok := t.policies[chain]; !ok {
		return fmt.Errorf("chain %s does not exist", chain)
	}
	switch f[0] {
	case "-A":
		t.rules[chain] = append(t.rules[chain], l)
	case "-I":
		rule := "-A " + chain + " " + strings.Join(f[3:], " ")
		at := 0
		fmt.Sscan(f[2], &at)
		at = min(max(at-1, 0), len(t.rules[chain]))
		t.rules[chain] = slices.Insert(t.rules[chain], at, rule)
	case "-D":
		rule := "-A " + chain + " " + strings.Join(f[2:], " ")
		i := slices.Index(t.rules[chain], rule)
		if i < 0 {
			return fmt.Errorf("no rule %q to delete", rule)
		}
		t.rules[chain] = slices.Delete(t.rules[chain], i, i+1)
	case "-F":
		t.rules[chain] = nil
	case "-X":
		for c, rules := range t.rules {
			for _, r := range rules {
				if strings.HasSuffix(r, "-j "+chain) {
					return fmt.Errorf("chain %s is in use by %s", chain, c)
				}
			}
		}
		t.chains = slices.DeleteFunc(t.chains, func(c string) bool { return c == chain })
		delete(t.policies, chain)
		delete(t.rules, chain)
	default:
		return fmt.Errorf("the fake does not know %q", f[0])
	}
	return nil
}

// print writes the tables (or only table, when given) as iptables-save
// does.
func (ts *fakeTables) print(table string) []byte {
	var b bytes.Buffer
	for _, name := range ts.order {
		if table != "" && name != table {
			continue
		}
		t := ts.tables[name]
		fmt.Fprintf(&b, "*%s\n", name)
		for _, c := range t.chains {
			fmt.Fprintf(&b, ":%s %s [0:0]\n", c, t.policies[c])
		}
		for _, c := range t.chains {
			for _, r := range t.rules[c] {
				b.WriteString(r + "\n")
			}
		}
		b.WriteString("COMMIT\n")
	}
	return b.Bytes()
}
