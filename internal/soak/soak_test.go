package soak_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/flows"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/internal/soak"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// steps is how many times each transition is carried out: a few in CI,
// as many as KSC_SOAK_STEPS says in a long soak (scripts/soak).
func steps(t *testing.T) int {
	if s := os.Getenv("KSC_SOAK_STEPS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "KSC_SOAK_STEPS")
		return n
	}
	return 25
}

// floodRate is the forbidden datagrams a second the soak sends, in all.
const floodRate = 60000

type loader struct {
	name  string
	apply func(ns string, p *ir.Policy) error
	// ksc says whether ksc's promise holds for it: nft -f is measured
	// only, for comparison.
	ksc bool
}

// loaders are backends.Loaders, each applying as ksc apply does (the
// flows a policy would not let start held and closed), but nft -f, which
// is nft's own and measured for comparison only.
var loaders = func() []loader {
	var out []loader
	for _, ld := range backends.Loaders {
		if ld.Name == "nft" {
			out = append(out, loader{"nft -f", func(ns string, p *ir.Policy) error { return ld.Load(p, nsenter.Path(ns)) }, false})
			continue
		}
		out = append(out, loader{ld.Name, func(ns string, p *ir.Policy) error {
			return guarded(ns, p, func() error { return ld.Load(p, nsenter.Path(ns)) })
		}, true})
	}
	return out
}()

func flowTrouble(r flows.Report) error {
	switch {
	case r.Unguarded != nil:
		return fmt.Errorf("the flows were not held: %w", r.Unguarded)
	case r.Err != nil:
		return fmt.Errorf("the flows: %w", r.Err)
	}
	return nil
}

// guarded applies as ksc apply does: the flows p would not let start are
// held through the change and closed.
func guarded(ns string, p *ir.Policy, apply func() error) error {
	report, err := flows.Transition(nsenter.Path(ns), flows.Allows(p), apply)
	if err == nil {
		err = flowTrouble(report)
	}
	return err
}

// Under a flood of datagrams every policy forbids, no transition lets one
// through: re-applying a policy, changing it, rolling back, and repairing
// after another program flushed the ruleset. Flows the new policy would
// not let start are closed when it comes into force.
func TestTransitionsAreClosed(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	a, b, err := soak.Policies()
	require.NoError(t, err)
	bIptables, err := soak.PolicyBFor("iptables")
	require.NoError(t, err)
	closes := func(p *ir.Policy) bool { return p == b || p == bIptables }
	n := steps(t)
	var results []soak.Result
	for _, ld := range loaders {
		b := b
		if strings.HasPrefix(ld.name, "iptables") {
			b = bIptables
		}
		t.Run(ld.name, func(t *testing.T) {
			run := func(tr func(l *soak.Lab) soak.Transition) {
				l, err := soak.New()
				require.NoError(t, err)
				defer func() { require.NoError(t, l.Close()) }()
				transition := tr(l)
				res, err := l.Run(ld.name, func(p *ir.Policy) error { return ld.apply(l.FW, p) }, transition, n, floodRate, closes)
				require.NoError(t, err)
				t.Log(res)
				results = append(results, res)
				if ld.ksc {
					assert.Zero(t, res.Leaked, "%s: forbidden datagrams arrived", transition.Name)
					assert.Zero(t, res.ClosedLeaked, "%s: datagrams of flows the policy in force forbids arrived", transition.Name)
				}
			}
			run(func(l *soak.Lab) soak.Transition {
				return soak.Transition{Name: "re-apply", From: a, Step: func() (soak.Step, error) {
					err := ld.apply(l.FW, a)
					return soak.Step{InForce: a, Since: soak.Now()}, err
				}}
			})
			run(func(l *soak.Lab) soak.Transition {
				current := a
				return soak.Transition{Name: "A then B", From: a, Step: func() (soak.Step, error) {
					next := b
					if current == b {
						next = a
					}
					err := ld.apply(l.FW, next)
					current = next
					return soak.Step{InForce: next, Since: soak.Now()}, err
				}}
			})
			switch ld.name {
			case "netlink":
				run(func(l *soak.Lab) soak.Transition { return rollback(t, l, a, b) })
				run(func(l *soak.Lab) soak.Transition { return repair(t, l, b) })
			case "iptables-nft", "iptables-legacy":
				mode := iptables.Mode(strings.TrimPrefix(ld.name, "iptables-"))
				run(func(l *soak.Lab) soak.Transition { return repairIptables(t, l, b, mode) })
			}
		})
	}
	t.Logf("\n%s", soak.Table(results))
}

// rollback: B in force; a --confirm apply of A, not confirmed, rolled
// back to B.
func rollback(t *testing.T, l *soak.Lab, a, b *ir.Policy) soak.Transition {
	batchA, err := nft.Lower(a)
	require.NoError(t, err)
	ns := nsenter.Path(l.FW)
	return soak.Transition{Name: "rollback", From: b, Step: func() (soak.Step, error) {
		snapshot, err := kernel.TakeSnapshot(ns, kernel.Replaces(batchA), batchA.FlushRuleset)
		if err != nil {
			return soak.Step{}, err
		}
		defer snapshot.Close()
		before, err := flows.IDs(ns)
		if err != nil {
			return soak.Step{}, err
		}
		if err := guarded(l.FW, a, func() error { return kernel.Apply(batchA, ns) }); err != nil {
			return soak.Step{}, err
		}
		time.Sleep(10 * time.Millisecond) // the confirm window: flows start under A
		report, err := flows.Transition(ns, flows.Among(before), func() error {
			_, err := snapshot.Rollback()
			return err
		})
		if err == nil {
			err = flowTrouble(report)
		}
		return soak.Step{InForce: b, Since: soak.Now()}, err
	}}
}

// repair: B in force, ksc watch running; another program flushes the
// ruleset, and watch puts B back.
func repair(t *testing.T, l *soak.Lab, b *ir.Policy) soak.Transition {
	batch, err := nft.Lower(b)
	require.NoError(t, err)
	repairs := make(chan int64, 1024)
	setup := func() error {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- kernel.Watch(ctx, nsenter.Path(l.FW), holdingFlows{batch, b, nsenter.Path(l.FW)}, func(r kernel.Repair) {
				if r.Err == nil && r.Paused == 0 {
					repairs <- soak.Now()
				}
			})
		}()
		t.Cleanup(func() {
			cancel()
			require.NoError(t, <-done)
		})
		// The lab starts empty: watch's check at its start puts B in.
		return nextRepair(repairs, nil)
	}
	// Paced so that watch sees no fight (more than 5 repairs a second),
	// for which it would wait a second before the next repair.
	return soak.Transition{Name: "repair", Setup: setup, From: b, Pace: 300 * time.Millisecond, Step: func() (soak.Step, error) {
		for len(repairs) > 0 {
			<-repairs
		}
		flushed := soak.Now()
		if out, err := exec.Command("ip", "netns", "exec", l.FW, "nft", "flush", "ruleset").CombinedOutput(); err != nil {
			return soak.Step{}, fmt.Errorf("nft flush ruleset: %v: %s", err, out)
		}
		var since int64
		err := nextRepair(repairs, &since)
		return soak.Step{InForce: b, Since: since, Flushed: flushed}, err
	}}
}

// repairIptables: B in force, ksc watch --backend iptables running (every
// 50 ms); another program flushes the filter tables and sets their
// policies to ACCEPT, and watch puts B back.
func repairIptables(t *testing.T, l *soak.Lab, b *ir.Policy, mode iptables.Mode) soak.Transition {
	repairs := make(chan int64, 1024)
	ns := nsenter.Path(l.FW)
	setup := func() error {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- iptables.Watch(ctx, ns, mode, 50*time.Millisecond, holdingIptables{b, ns}, func(r iptables.Repair) {
				if r.Err == nil {
					// When the check began: the repair that counts began
					// after the flush was done.
					repairs <- soak.Now() - r.Took.Nanoseconds()
				}
			})
		}()
		t.Cleanup(func() {
			cancel()
			require.NoError(t, <-done)
		})
		return nextRepair(repairs, nil) // the check at the start
	}
	flush := func() error {
		for _, tool := range []string{"iptables-" + string(mode), "ip6tables-" + string(mode)} {
			for _, args := range [][]string{{"-F"}, {"-P", "INPUT", "ACCEPT"}, {"-P", "FORWARD", "ACCEPT"}, {"-P", "OUTPUT", "ACCEPT"}} {
				if out, err := exec.Command("ip", append([]string{"netns", "exec", l.FW, tool}, args...)...).CombinedOutput(); err != nil {
					return fmt.Errorf("%s %v: %v: %s", tool, args, err, out)
				}
			}
		}
		return nil
	}
	return soak.Transition{Name: "repair", Setup: setup, From: b, Pace: 150 * time.Millisecond, Step: func() (soak.Step, error) {
		for len(repairs) > 0 {
			<-repairs
		}
		flushed := soak.Now()
		if err := flush(); err != nil {
			return soak.Step{}, err
		}
		// A check between two of the flush's commands repairs what was
		// flushed so far, and the flush's next command undoes the repair:
		// the check that counts (which repairs, or finds B in force)
		// began after the last.
		flushedAll := soak.Now()
		var began int64
		for began < flushedAll {
			if err := nextRepair(repairs, &began); err != nil {
				return soak.Step{}, err
			}
		}
		return soak.Step{InForce: b, Since: soak.Now(), Flushed: flushed}, nil
	}}
}

type holdingIptables struct {
	p      *ir.Policy
	nsPath string
}

func (k holdingIptables) Desired() (*ir.Policy, func(), error) { return k.p, func() {}, nil }

func (k holdingIptables) Repair(p *ir.Policy, repair func() error) error {
	report, err := flows.Transition(k.nsPath, flows.Allows(p), repair)
	if err == nil {
		err = flowTrouble(report)
	}
	return err
}

// holdingFlows keeps b in force as ksc watch does: each repair closes the
// flows p would not let start that began while it was not in force.
type holdingFlows struct {
	b      *nft.Batch
	p      *ir.Policy
	nsPath string
}

func (k holdingFlows) Desired() (*nft.Batch, func(), error) { return k.b, func() {}, nil }

func (k holdingFlows) Repair(_ *nft.Batch, repair func() error) error {
	report, err := flows.Transition(k.nsPath, flows.Allows(k.p), repair)
	if err == nil {
		err = flowTrouble(report)
	}
	return err
}

func nextRepair(repairs <-chan int64, at *int64) error {
	select {
	case t := <-repairs:
		if at != nil {
			*at = t
		}
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("watch did not repair within 5 s")
	}
}
