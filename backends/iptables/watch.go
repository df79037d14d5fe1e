package iptables

import (
	"context"
	"time"

	"github.com/ksc-project/ksc/ir"
)

// A Keeper says what Watch keeps in force, asked before each check (see
// the nft backend's kernel.Keeper).
type Keeper interface {
	// Desired is the policy to keep in force (nil when there is none),
	// and what to call when the check, and repair, are done.
	Desired() (p *ir.Policy, release func(), err error)
	// Repair carries out repair, which puts p back.
	Repair(p *ir.Policy, repair func() error) error
}

// A Repair is what Watch found and did at one check.
type Repair struct {
	// Differences are the lines that differed (see Status) and were put
	// right; none when the rules were in place.
	Differences []string
	Took        time.Duration
	Err         error
}

// Watch keeps the keeper's policy in force in the namespace at nsPath
// until ctx ends: every interval it compares the tables with the policy
// (Status: rules, policies, and the place of the jumps into ksc's chains)
// and applies the policy again when they differ. iptables has no events
// to listen to; between another program's change and the next check the
// change stands. It reports every check: one that found nothing has no
// Differences.
func Watch(ctx context.Context, nsPath string, mode Mode, interval time.Duration, keeper Keeper, report func(Repair)) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		check(nsPath, mode, keeper, report)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func check(nsPath string, mode Mode, keeper Keeper, report func(Repair)) {
	p, release, err := keeper.Desired()
	if err != nil {
		report(Repair{Err: err})
		return
	}
	defer release()
	if p == nil {
		return
	}
	start := time.Now()
	diff, err := Status(p, nsPath, mode)
	if err == nil && len(diff) > 0 {
		err = keeper.Repair(p, func() error { return Apply(p, nsPath, mode) })
	}
	report(Repair{Differences: diff, Took: time.Since(start), Err: err})
}
