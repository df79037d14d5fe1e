package flows

import (
	"errors"
	"fmt"

	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/sim"
)

// Keep says whether a tracked flow may go on under the ruleset coming in.
type Keep func(Flow) bool

// Allows keeps the flows whose first packet p accepts.
func Allows(p *ir.Policy) Keep {
	return func(f Flow) bool { return sim.Evaluate(p, f.First).Verdict == ir.Accept }
}

// Among keeps the flows whose conntrack ids are in ids: a rollback keeps
// the flows that were there before the apply it undoes, and closes those
// that started under the ruleset it takes away (it cannot judge them by
// a ruleset other programs may have written).
func Among(ids map[uint32]bool) Keep {
	return func(f Flow) bool { return ids[f.entry.ID] }
}

// IDs are the conntrack ids of the flows the namespace at nsPath tracks.
func IDs(nsPath string) (map[uint32]bool, error) {
	all, err := Read(nsPath)
	if err != nil {
		return nil, err
	}
	ids := make(map[uint32]bool, len(all))
	for _, f := range all {
		ids[f.entry.ID] = true
	}
	return ids, nil
}

// A Report says what a Transition did to the flows.
type Report struct {
	// Closed are the flows keep refused, deleted from conntrack.
	Closed []Flow
	// Unguarded is why the flows could not be held during the change
	// (a kernel without nf_tables, say): then they were closed after it,
	// and may have sent packets in between.
	Unguarded error
	// Err is why the flows could not be judged or closed after the
	// change: flows the new ruleset forbids may go on.
	Err error
}

// Transition carries out change, a new ruleset coming into force in the
// namespace at nsPath, so that not one packet of a tracked flow keep
// refuses passes once it is: the flows are judged beforehand, held by a
// kernel.FlowGuard through the change, and those that started meanwhile
// are judged after it. The error is change's: when it fails, the flows go
// on as before; what went wrong with the flows is in the report.
func Transition(nsPath string, keep Keep, change func() error) (report Report, err error) {
	before, err := Read(nsPath)
	var guard *kernel.FlowGuard
	vetted := map[uint32]bool{}
	if err == nil {
		var ids []uint32
		for _, f := range before {
			if keep(f) {
				vetted[f.entry.ID] = true
				ids = append(ids, f.entry.ID)
			}
		}
		guard, err = kernel.HoldFlows(nsPath, ids)
	}
	if err != nil {
		report.Unguarded = err
		if err := change(); err != nil {
			return report, err
		}
		report.Closed, report.Err = sweep(nsPath, keep, nil, nil)
		return report, nil
	}
	if err := change(); err != nil {
		if rerr := guard.Release(); rerr != nil {
			err = errors.Join(err, fmt.Errorf("and %w", rerr))
		}
		return report, err
	}
	report.Err = guard.Admit()
	if report.Err == nil {
		var admitted map[uint32]bool
		if admitted, report.Err = guard.Vetted(); report.Err == nil {
			for id := range admitted {
				vetted[id] = true
			}
			report.Closed, report.Err = sweep(nsPath, keep, vetted, guard)
		}
	}
	report.Err = errors.Join(report.Err, guard.Release())
	return report, nil
}

// sweep judges the flows not in vetted: it closes those keep refuses and,
// when there is a guard, lets the others pass it.
func sweep(nsPath string, keep Keep, vetted map[uint32]bool, guard *kernel.FlowGuard) (closed []Flow, err error) {
	all, err := Read(nsPath)
	if err != nil {
		return nil, err
	}
	var pass []uint32
	for _, f := range all {
		switch {
		case vetted[f.entry.ID]:
		case keep(f):
			pass = append(pass, f.entry.ID)
		default:
			closed = append(closed, f)
		}
	}
	if err := Close(nsPath, closed); err != nil {
		return nil, err
	}
	if guard != nil && len(pass) > 0 {
		if err := guard.Vet(pass); err != nil {
			return closed, fmt.Errorf("letting the flows the new ruleset allows pass: %w", err)
		}
	}
	return closed, nil
}
