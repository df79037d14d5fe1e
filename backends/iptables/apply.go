package iptables

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/coreos/go-iptables/iptables"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
)

// Mode is the iptables variant to drive: the nf_tables one or the legacy
// (x_tables) one. ModeAuto uses whatever "iptables" is on the system.
type Mode string

const (
	ModeAuto   Mode = "auto"
	ModeNFT    Mode = "nft"
	ModeLegacy Mode = "legacy"
)

// tool names the command of a mode and family, e.g. ip6tables-legacy-restore.
func tool(mode Mode, family ir.Family, suffix string) string {
	name := "iptables"
	if family == ir.IPv6 {
		name = "ip6tables"
	}
	if mode == ModeNFT || mode == ModeLegacy {
		name += "-" + string(mode)
	}
	return name + suffix
}

// DetectMode asks go-iptables for the system's iptables and reads its mode
// from the version line ("iptables v1.8.9 (nf_tables)").
func DetectMode() (Mode, error) {
	if _, err := iptables.New(); err != nil {
		return "", fmt.Errorf("iptables: %w", err)
	}
	out, err := exec.Command("iptables", "--version").Output()
	if err != nil {
		return "", err
	}
	if strings.Contains(string(out), "nf_tables") {
		return ModeNFT, nil
	}
	return ModeLegacy, nil
}

// ApplyError is iptables-restore refusing a line, traced back to the policy.
type ApplyError struct {
	Pos    ir.Pos
	Family ir.Family
	Line   string
	Err    error
}

func (e *ApplyError) Error() string {
	tool := "iptables-restore"
	if e.Family == ir.IPv6 {
		tool = "ip6tables-restore"
	}
	if e.Pos.IsValid() {
		return fmt.Sprintf("%s: %s refused %q: %v", e.Pos, tool, e.Line, e.Err)
	}
	return fmt.Sprintf("%s failed: %v", tool, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Refused is the refused policy line, and what to say there.
func (e *ApplyError) Refused() (ir.Pos, string) {
	return e.Pos, strings.TrimPrefix(e.Error(), e.Pos.String()+": ")
}

// Apply loads both families with iptables-restore and ip6tables-restore, in
// the namespace at nsPath (the current one when empty). Each family is
// replaced atomically by its tool; there is no transaction across the two,
// so when the second fails the first is restored to what it was, and the
// filter tables end as they began.
func Apply(p *ir.Policy, nsPath string, mode Mode) error {
	return ApplyWith(System{NSPath: nsPath}, p, mode)
}

// ApplyWith is Apply through tools: the system's (System) or a Fake.
func ApplyWith(tools Tools, p *ir.Policy, mode Mode) error {
	v4, err := Render(p, ir.IPv4)
	if err != nil {
		return err
	}
	v6, err := Render(p, ir.IPv6)
	if err != nil {
		return err
	}
	return tools.Do(func(run RunFunc) error {
		tables4, saved4, err := saveForApply(run, mode, ir.IPv4, p)
		if err != nil {
			return err
		}
		tables6, saved6, err := saveForApply(run, mode, ir.IPv6, p)
		if err != nil {
			return err
		}
		// Both forms change the tables in place, with --noflush (see
		// inPlace).
		args := []string{"--noflush"}
		var tight4, tight6 []byte
		if Owned(p) {
			// Only ksc's chains are replaced; the jumps into them are
			// put first where they are not, and ksc's chains in a table
			// the policy no longer writes are taken out.
			v4, v6 = withJumpsFirst(v4, saved4), withJumpsFirst(v6, saved6)
			v4.Text = append(v4.Text, removal(saved4, notIn(tables4, Tables(p)))...)
			v6.Text = append(v6.Text, removal(saved6, notIn(tables6, Tables(p)))...)
		} else {
			tight4, tight6 = tightening(v4.Text, saved4), tightening(v6.Text, saved6)
			v4, v6 = inPlaceOutput(v4, saved4), inPlaceOutput(v6, saved6)
		}
		// What puts a family back as it was, in place: its tables as
		// saved, and those that were not there empty.
		putBack := func(family ir.Family, saved []byte) error {
			tables := tables4
			if family == ir.IPv6 {
				tables = tables6
			}
			now, err := saveTables(run, mode, family, tables)
			if err != nil {
				return err
			}
			was := parseSaved(saved)
			for _, t := range tables {
				if was[t] == nil {
					saved = append(slices.Clone(saved), emptyTable(t)...)
				}
			}
			back, _ := inPlace(saved, nil, now)
			_, err = run(tool(mode, family, "-restore"), back, "--noflush")
			return err
		}
		sets := uniqueSets(append(slices.Clone(v4.Sets), v6.Sets...))
		// ipset is run only where sets are, or were, in use.
		tidy := func() {
			if len(sets) > 0 || usesIPSets(saved4) {
				destroyUnused(run, sets)
			}
		}
		finish, err := loadSets(run, sets)
		if err != nil {
			return fmt.Errorf("loading the ipsets: %w", err)
		}
		failed := func(err error, back4, back6 bool) error {
			err = errors.Join(err, finish(false))
			if back4 {
				if rerr := putBack(ir.IPv4, saved4); rerr != nil {
					err = errors.Join(err, fmt.Errorf("and restoring the previous IPv4 rules failed: %w", rerr))
				}
			}
			if back6 {
				if rerr := putBack(ir.IPv6, saved6); rerr != nil {
					err = errors.Join(err, fmt.Errorf("and restoring the previous IPv6 rules failed: %w", rerr))
				}
			}
			if len(sets) > 0 {
				destroyUnused(run, nil) // sets made for rules that did not go in
			}
			return err
		}
		// The policies that turn to DROP, before any rule changes.
		if tight4 != nil {
			if _, err := run(tool(mode, ir.IPv4, "-restore"), tight4, "--noflush"); err != nil {
				return failed(&ApplyError{Family: ir.IPv4, Err: err}, true, false)
			}
		}
		if tight6 != nil {
			if _, err := run(tool(mode, ir.IPv6, "-restore"), tight6, "--noflush"); err != nil {
				return failed(&ApplyError{Family: ir.IPv6, Err: err}, tight4 != nil, true)
			}
		}
		if err := restore(run, mode, v4, args...); err != nil {
			return failed(err, tight4 != nil, tight6 != nil)
		}
		if err := restore(run, mode, v6, args...); err != nil {
			return failed(err, true, tight6 != nil)
		}
		if err := finish(true); err != nil {
			return fmt.Errorf("the rules are in, but swapping in the new ipset content failed: %w", err)
		}
		tidy()
		return nil
	})
}

// inPlaceOutput is o rewritten to change its tables in place (inPlace).
func inPlaceOutput(o *Output, saved []byte) *Output {
	text, lines := inPlace(o.Text, o.Lines, saved)
	return &Output{Family: o.Family, Text: text, Lines: lines, Sets: o.Sets}
}

// saveTables saves one family's tables the policy writes (see Tables):
// what a failed apply or removal puts back.
func saveTables(run RunFunc, mode Mode, family ir.Family, tables []string) ([]byte, error) {
	var saved []byte
	for _, t := range tables {
		out, err := run(tool(mode, family, "-save"), nil, "-t", t)
		if err != nil {
			return nil, err
		}
		saved = append(saved, out...)
	}
	return saved, nil
}

// saveForApply saves the tables an apply of p changes in one family, and
// says which: those it writes (Tables), and for a policy in ksc's own
// chains any other table where a policy before left ksc's chains. Only
// tables that exist are read for those (iptables-legacy-save -t would
// make one).
func saveForApply(run RunFunc, mode Mode, family ir.Family, p *ir.Policy) ([]string, []byte, error) {
	tables := Tables(p)
	if Owned(p) {
		all, err := run(tool(mode, family, "-save"), nil)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range withOwnChains(all) {
			if !slices.Contains(tables, t) {
				tables = append(tables, t)
			}
		}
	}
	saved, err := saveTables(run, mode, family, tables)
	return tables, saved, err
}

// notIn lists the tables of all that are not in some.
func notIn(all, some []string) []string {
	var out []string
	for _, t := range all {
		if !slices.Contains(some, t) {
			out = append(out, t)
		}
	}
	return out
}

// usesIPSets reports whether a saved filter table matches ksc's ipsets.
func usesIPSets(saved []byte) bool {
	return bytes.Contains(saved, []byte("--match-set "+ipsetPrefix))
}

// RunFunc runs one iptables tool with stdin and returns its standard
// output; a failure's error holds its standard error.
type RunFunc func(name string, stdin []byte, args ...string) ([]byte, error)

// Tools is the seam in front of the iptables commands: Do calls fn with a
// way to run them, all in one place (one namespace). System runs the real
// tools; Fake stands in for them in tests without root.
type Tools interface {
	Do(fn func(run RunFunc) error) error
}

// System runs the installed tools inside the namespace at NSPath (the
// current one when empty).
type System struct{ NSPath string }

// Do runs fn on a thread inside the namespace.
func (s System) Do(fn func(run RunFunc) error) error {
	return nsenter.Run(s.NSPath, func() error { return fn(run) })
}

// failedLine finds the line number in iptables-restore's complaint: the
// legacy tools say "Error occurred at line: N", the nf_tables ones
// "line N failed".
var failedLine = regexp.MustCompile(`line:? (\d+)`)

// withJumpsFirst is o with each jump into ksc's chains (jumpLine) made
// the first rule of its builtin chain, in each table. A jump already
// first is left out (iptables-restore --noflush would add it again); one
// found elsewhere, where another program's restart inserted its rules
// above it, is deleted and inserted first again, in the same transaction:
// every rule above it decides before ksc's chain does. A jump into a chain
// the policy no longer hooks (the one before had an input chain, this one
// has none) is deleted: what is loaded is what the policy says.
func withJumpsFirst(o *Output, saved []byte) *Output {
	first, count := jumpsIn(saved)
	out := &Output{Family: o.Family, Sets: o.Sets}
	add := func(l string, pos ir.Pos) {
		out.Text = append(append(out.Text, l...), '\n')
		out.Lines = append(out.Lines, pos)
	}
	deleteAll := func(at jumpAt) {
		for range count[at] {
			add("-D "+at.builtin+" -j "+ownChain(at.builtin), ir.Pos{})
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(o.Text), "\n"), "\n")
	jumped := map[jumpAt]bool{}
	table := ""
	for _, l := range lines {
		if t, ok := strings.CutPrefix(l, "*"); ok {
			table = t
		}
		if f := strings.Fields(l); len(f) == 5 && f[0] == "-I" && l == jumpLine(f[1]) {
			jumped[jumpAt{table, f[1]}] = true
		}
	}
	for i, l := range lines {
		if t, ok := strings.CutPrefix(l, "*"); ok {
			table = t
		}
		if l == "COMMIT" {
			for _, at := range slices.SortedFunc(maps.Keys(count), jumpAt.compare) {
				if at.table == table && !jumped[at] {
					deleteAll(at)
				}
			}
		}
		if f := strings.Fields(l); len(f) == 5 && f[0] == "-I" && l == jumpLine(f[1]) {
			at := jumpAt{table, f[1]}
			if first[at] && count[at] == 1 {
				continue
			}
			deleteAll(at)
		}
		add(l, o.Lines[i])
	}
	return out
}

// jumpAt is a builtin chain of one table, where a jump into ksc's chain
// may be.
type jumpAt struct{ table, builtin string }

func (a jumpAt) compare(b jumpAt) int {
	return cmp.Or(strings.Compare(a.table, b.table), strings.Compare(a.builtin, b.builtin))
}

// jumpsIn finds, in saved tables, the jumps into ksc's chains: whether
// each builtin chain's first rule is one, and how many it has.
func jumpsIn(saved []byte) (first map[jumpAt]bool, count map[jumpAt]int) {
	first, count = map[jumpAt]bool{}, map[jumpAt]int{}
	seen := map[jumpAt]bool{}
	table := ""
	for _, l := range strings.Split(string(saved), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "*") {
			table = l[1:]
			continue
		}
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "-A" || !slices.Contains(builtinsOf(table), f[1]) {
			continue
		}
		at := jumpAt{table, f[1]}
		isJump := l == "-A "+at.builtin+" -j "+ownChain(at.builtin)
		if !seen[at] {
			seen[at] = true
			first[at] = isJump
		}
		if isJump {
			count[at]++
		}
	}
	return first, count
}

func restore(run RunFunc, mode Mode, o *Output, args ...string) error {
	_, err := run(tool(mode, o.Family, "-restore"), o.Text, args...)
	if err == nil {
		return nil
	}
	ae := &ApplyError{Family: o.Family, Err: err}
	if m := failedLine.FindStringSubmatch(err.Error()); m != nil {
		if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= len(o.Lines) {
			ae.Pos = o.Lines[n-1]
			ae.Line = strings.Split(string(o.Text), "\n")[n-1]
		}
	}
	return ae
}

// Test checks an output with "iptables-restore --test": nothing is changed.
func Test(o *Output, nsPath string, mode Mode) error {
	return System{NSPath: nsPath}.Do(func(run RunFunc) error {
		_, err := run(tool(mode, o.Family, "-restore"), o.Text, "--test")
		return err
	})
}

func run(name string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
