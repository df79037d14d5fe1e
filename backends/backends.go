// Package backends is what ksc does with a policy in a network namespace,
// whatever the backend that loads it: one interface, Firewall, which the
// nft backend (over netlink) and the iptables backend (iptables-restore,
// nf_tables or legacy) implement, and a Fake for callers' tests. The
// command line picks a backend once, by name (Open), and calls it; what
// differs between backends stays behind the interface, as it does behind
// knftables' Interface and tailscale's NetfilterRunner.
package backends

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/ir"
)

// A Firewall is one backend in one network namespace.
type Firewall interface {
	// Name is the backend's name: "nft" or "iptables".
	Name() string
	// DryRun is what Apply would send, as text: the netlink batch, or
	// the iptables commands.
	DryRun(p *ir.Policy) (string, error)
	// Apply puts p in force: all or nothing, and closed at every instant
	// (what both the old and the new rules forbid is dropped throughout).
	Apply(p *ir.Policy) error
	// Diff is what applying p would change.
	Diff(p *ir.Policy) ([]Change, error)
	// Status says whether p is in force: its rules, where the backend
	// counts them, and every difference of its tables from p.
	Status(p *ir.Policy) (Status, error)
	// Remove takes p's tables (or ksc's chains) away.
	Remove(p *ir.Policy) error
	// Watch keeps the keeper's policy in force until ctx ends.
	Watch(ctx context.Context, k Keeper, report func(Repair)) error
	// RollsBack reports whether the backend can put a ruleset back as it
	// was (Snapshot), which "apply --confirm" needs.
	RollsBack() bool
	// Snapshot keeps what applying p would replace, for a rollback; the
	// error is ErrNoRollback where the backend has none.
	Snapshot(p *ir.Policy) (Snapshot, error)
	// SetKeys is what a set p declares holds in force, and ReplaceSet
	// makes it hold keys, all at once (ksc set: a VPN client's new
	// endpoint after a reconnect, a forwarded port).
	SetKeys(p *ir.Policy, t *ir.Table, s *ir.TableSet) (ir.Set, error)
	ReplaceSet(p *ir.Policy, t *ir.Table, s *ir.TableSet, keys ir.Set) error
}

// ErrNoRollback is the Snapshot of a backend that cannot put a ruleset
// back as it was.
var ErrNoRollback = errors.New("this backend has no rollback")

// Change is a line of a difference: Op is ' ' (in both), '-' (only live:
// applying removes it) or '+' (applying adds it).
type Change struct {
	Op   byte
	Text string
}

// Changed reports whether a difference has any change.
func Changed(d []Change) bool {
	for _, c := range d {
		if c.Op != ' ' {
			return true
		}
	}
	return false
}

// Status is what Status found.
type Status struct {
	// Rules are the policy's rules, each found or not, with its counter;
	// none where the backend cannot tell one rule from another.
	Rules []RuleStatus
	// Differences are how the tables differ from the policy; none when
	// they hold exactly the policy.
	Differences []Change
}

// RuleStatus is one rule of the policy as found in force.
type RuleStatus struct {
	Pos    ir.Pos
	Chain  string
	Text   string
	Loaded bool
	// Counted says whether the rule in force counts; Packets and Bytes
	// are its counter.
	Counted        bool
	Packets, Bytes uint64
}

// A Keeper says what Watch keeps in force, asked before each check, so
// that a later apply or remove decides it (see enforce).
type Keeper interface {
	// Desired is the policy to keep in force (nil: none), and what to
	// call once the check, and any repair, are done.
	Desired() (p *ir.Policy, release func(), err error)
	// Repair carries out repair, which puts p back.
	Repair(p *ir.Policy, repair func() error) error
}

// A Repair is what Watch did about a change it found.
type Repair struct {
	// By names the program whose change it answered, "comm[pid]", when
	// the backend knows it.
	By string
	// Changes are the lines the repair put back ('+') or took away ('-').
	Changes []Change
	Took    time.Duration
	Err     error
	// Paused, when not 0, says that another program keeps undoing the
	// policy, and that Watch waits this long before its next repair.
	Paused time.Duration
}

// A Snapshot puts back what an apply replaced.
type Snapshot interface {
	// Rollback puts it back, closed at every instant, and says what
	// other programs did meanwhile.
	Rollback() (notes []string, err error)
	Close()
}

// Options are what a backend may need besides its namespace.
type Options struct {
	// Mode is iptables' variant (auto: the system's).
	Mode iptables.Mode
	// Interval is how often iptables' Watch compares (it has no events).
	Interval time.Duration
}

// Names are the backends Open knows.
var Names = []string{"nft", "iptables"}

// Open is the backend called name in the namespace at nsPath (the
// current one when empty).
func Open(name, nsPath string, o Options) (Firewall, error) {
	switch name {
	case "nft":
		return routed{nftFirewall{nsPath: nsPath}, nsPath}, nil
	case "iptables":
		switch o.Mode {
		case "":
			o.Mode = iptables.ModeAuto
		case iptables.ModeAuto, iptables.ModeNFT, iptables.ModeLegacy:
		default:
			return nil, fmt.Errorf("--iptables-mode is auto, nft or legacy, not %q", o.Mode)
		}
		if o.Interval <= 0 {
			o.Interval = 2 * time.Second
		}
		return routed{iptablesFirewall{nsPath: nsPath, mode: o.Mode, interval: o.Interval}, nsPath}, nil
	}
	return nil, fmt.Errorf("--backend is nft or iptables, not %q", name)
}

// Refusal is a backend refusing a policy line: what both backends' apply
// errors say, so that a caller shows it at the line.
type Refusal interface {
	error
	// Refused is the policy position refused, and what to say there;
	// the position is invalid when the backend could not tell.
	Refused() (ir.Pos, string)
}
