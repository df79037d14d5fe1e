// Package machine reads the whole firewall of a network namespace for
// the simulator: every nft table in force, other programs' included
// (Docker's, fail2ban's, firewalld's, iptables-nft's), and the rules of
// iptables-legacy, which nft does not list. What ksc cannot read stays in
// place (lang.LoadMachine), so that an answer it would change is
// "unknown", never a guess. ksc explain, test and check --live ask it.
package machine

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/cgroup"
	"github.com/ksc-project/ksc/flows"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/sim"
)

// Source is the file name positions in the listing of the nft ruleset
// refer to ("live:12:3"); LegacySource, those in the listing of
// iptables-legacy's rules as read (see Legacy).
const (
	Source       = "live"
	LegacySource = "iptables-legacy"
)

// A Machine is a namespace's firewall, read.
type Machine struct {
	// Policy holds every table: nft's, then iptables-legacy's.
	Policy *ir.Policy
	// Unseen are the tables and chains ksc reads nothing of (see
	// lang.LoadMachine): while there are any, no answer is known.
	Unseen ir.Diagnostics
	// legacy are the tables read from iptables-legacy, which no policy
	// replaces (ksc writes nft tables).
	legacy []*ir.Table
	nsPath string // the namespace read, for its routes
}

// Read reads the firewall of the namespace at nsPath (the current one
// when empty). Root.
func Read(nsPath string) (*Machine, error) {
	src, err := List(nsPath)
	if err != nil {
		return nil, err
	}
	p, unseen, ds := lang.LoadMachine(Source, src, cgroupRoot())
	if ds.HasErrors() {
		return nil, fmt.Errorf("reading the live ruleset: %v", ds.Err())
	}
	m := &Machine{Policy: p, Unseen: unseen, nsPath: nsPath}
	legacy, err := readLegacy(nsPath)
	if err != nil {
		return nil, err
	}
	if legacy != nil {
		m.legacy = legacy.Policy.Tables
		m.Policy.Tables = append(m.Policy.Tables, legacy.Policy.Tables...)
		m.Unseen = append(m.Unseen, legacy.Unseen...)
	}
	return m, nil
}

// With is the machine as applying p would leave it: p's tables in place
// of the nft tables of their names (all of them, when p flushes the
// ruleset); iptables-legacy's stay.
func (m *Machine) With(p *ir.Policy) *Machine {
	combined := *p
	combined.Tables = nil
	out := &Machine{Policy: &combined, legacy: m.legacy, nsPath: m.nsPath}
	for _, t := range m.Policy.Tables {
		isLegacy := slices.Contains(m.legacy, t)
		if isLegacy || !p.FlushRuleset && !sameName(p.Tables, t) {
			combined.Tables = append(combined.Tables, t)
		}
	}
	combined.Tables = append(combined.Tables, p.Tables...)
	for _, d := range m.Unseen {
		if !p.FlushRuleset || d.Pos.File == LegacySource {
			out.Unseen = append(out.Unseen, d)
		}
	}
	return out
}

// Evaluate is sim.EvaluateRouted on the machine, its routes the kernel's
// (an arriving packet a dnat sends to another address is delivered or
// forwarded as they say: Docker's published port), and why its verdict
// is not known, if it is not: a rule ksc cannot read decides it
// (sim.Result.Unsure), or the machine has what ksc reads nothing of
// (Unseen).
func (m *Machine) Evaluate(pkt sim.Packet) (res sim.Result, unsure string) {
	routes := &lazyRoutes{nsPath: m.nsPath}
	defer routes.close()
	res = sim.EvaluateRouted(m.Policy, pkt, routes)
	if routes.err != nil {
		res = sim.Evaluate(m.Policy, pkt) // no routes: nothing taken from them
	}
	if why := res.Unsure(); why != "" {
		return res, why
	}
	if len(m.Unseen) > 0 {
		res.Verdict = ir.NoVerdict
		return res, "ksc cannot read " + m.Blind()
	}
	if r := res.Sent(); r != nil && routes.err != nil {
		res.Verdict = ir.NoVerdict
		return res, fmt.Sprintf("rule %s sends it to %s, and the machine's routes, which decide whether it is delivered there or forwarded, could not be read: %v", r.Pos, res.Final.Dst, routes.err)
	}
	return res, ""
}

// lazyRoutes asks the kernel's routing (flows.KernelRoutes) only for a
// packet a dnat sends elsewhere: reading it, the namespace's sockets
// with it, is most of an answer's time. After an error it answers
// nothing, and err says why.
type lazyRoutes struct {
	nsPath string
	routes flows.Routes
	done   func()
	err    error
}

func (l *lazyRoutes) open() bool {
	if l.routes == nil && l.err == nil {
		l.routes, l.done, l.err = flows.KernelRoutes(l.nsPath)
	}
	return l.err == nil
}

func (l *lazyRoutes) close() {
	if l.done != nil {
		l.done()
	}
}

func (l *lazyRoutes) Local(a netip.Addr) bool { return l.open() && l.routes.Local(a) }

func (l *lazyRoutes) Forward(iif string, src, dst netip.Addr) string {
	if !l.open() {
		return ""
	}
	return l.routes.Forward(iif, src, dst)
}

// Blind names what the machine has that ksc reads nothing of.
func (m *Machine) Blind() string {
	var blind []string
	for _, d := range m.Unseen {
		blind = append(blind, d.Pos.String()+" ("+d.Message+")")
	}
	return strings.Join(blind, ", nor ")
}

// TableOf names the table of one of the machine's rules: " (table ip
// nat)", or "" for none.
func (m *Machine) TableOf(r *ir.Rule) string {
	for _, t := range m.Policy.Tables {
		if t.Has(r) {
			return fmt.Sprintf(" (table %s %s)", t.Family, t.Name)
		}
	}
	return ""
}

// List is nft's listing of the ruleset in the namespace at nsPath (the
// current one when empty).
func List(nsPath string) ([]byte, error) {
	var out []byte
	err := nsenter.Run(nsPath, func() error {
		var err error
		out, err = run("", "nft", "list", "ruleset")
		return err
	})
	return out, err
}

func run(stdin string, name string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func sameName(ts []*ir.Table, t *ir.Table) bool {
	for _, u := range ts {
		if u.Family == t.Family && u.Name == t.Name {
			return true
		}
	}
	return false
}

// cgroupRoot is where this machine's nft names cgroups from, "" where
// that is not known (no cgroup2): the listing's paths are then read as
// they are, and a rule whose path does not fit its level is unread.
func cgroupRoot() string {
	root, err := cgroup.NftRoot()
	if err != nil {
		return ""
	}
	return root
}
