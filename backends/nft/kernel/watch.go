package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/mdlayher/netlink"
)

// A Repair is what Watch did about a change to the policy's tables.
type Repair struct {
	// By names the program whose transaction changed the tables,
	// "comm[pid]", or is empty for the check at the start.
	By string
	// Changes are the lines the repair put back ('+') or took away ('-').
	Changes []DiffLine
	// Took is the time from the event to the policy being back.
	Took time.Duration
	Err  error
	// Paused, when not 0, says that another program keeps undoing the
	// policy, and that Watch waits this long before its next repair, so
	// that two programs do not spin.
	Paused time.Duration
}

// fightWindow and fightRepairs: more repairs than this within the window
// mean another program keeps undoing the policy; Watch then waits a
// window before the next, so that two programs do not spin.
const (
	fightWindow  = time.Second
	fightRepairs = 5
)

// Watch keeps the tables of b in the namespace at nsPath as applying b
// makes them, until ctx ends. It listens to nf_tables' own events, and
// when another program's transaction deletes or changes one of b's tables
// (a "nft flush ruleset", a firewall reload), it puts the tables back in
// one transaction, and reports. Its own transactions are recognised by
// their process id and never answered, and it acts only on a difference
// from what b makes, so it cannot loop. Other programs' tables are never
// touched, even for a policy that flushes the ruleset when applied.
//
// around, when not nil, carries out each repair: it is given the repair
// to run (see flows.Transition, which closes the flows the policy would
// not let start that began while the policy was not in force).
func Watch(ctx context.Context, b *nft.Batch, nsPath string, report func(Repair), around func(repair func() error) error) error {
	if around == nil {
		around = func(repair func() error) error { return repair() }
	}
	desired, err := applyInScratch(b, false)
	if err != nil {
		return err
	}
	desired.MarkRuntime(b)
	ours := func(t *nftables.Table) bool { return b.Table(t) != nil }
	want := desired.Fingerprint(ours)
	restore := *b
	restore.FlushRuleset = false // put back ours; leave the others' tables be

	h, err := nsenter.Open(nsPath)
	if err != nil {
		return err
	}
	defer h.Close()
	mon, err := nftables.New(nftables.WithNetNSFd(int(h)), nftables.AsLasting(), nftables.WithSockOptions(bigBuffers))
	if err != nil {
		return err
	}
	defer mon.CloseLasting()
	monitor := nftables.NewMonitor(nftables.WithMonitorEventBuffer(1024))
	defer monitor.Close()
	events, err := mon.AddGenerationalMonitor(monitor)
	if err != nil {
		return fmt.Errorf("listening to nf_tables events: %w", err)
	}

	var recent []time.Time
	check := func(by string, since time.Time, deleted bool) {
		r := Repair{By: by}
		var err error
		if deleted {
			// One of our tables was deleted: no need to read the ruleset
			// (which waits for the deletion's clean-up) to know that.
			r.Changes = changedLines(diffLines(nil, lines(desired, ours, b)))
			err = around(func() error { return applyRestore(&restore, int(h)) })
		} else {
			var live *nft.Ruleset
			live, err = readHandle(h)
			if err == nil {
				live.MarkRuntime(b)
			}
			if err == nil && slices.Equal(live.Fingerprint(ours), want) {
				return
			}
			if err == nil {
				r.Changes = changedLines(diffLines(lines(live, ours, nil), lines(desired, ours, b)))
				err = around(func() error { return applyRestore(&restore, int(h)) })
			}
		}
		r.Took, r.Err = time.Since(since), err
		report(r)
		recent = append(recent, time.Now())
		if len(recent) > fightRepairs {
			recent = recent[1:]
			if time.Since(recent[0]) < fightWindow {
				report(Repair{By: by, Paused: fightWindow})
				time.Sleep(fightWindow)
			}
		}
	}
	check("", time.Now(), false)
	for {
		select {
		case <-ctx.Done():
			return nil
		case gen, ok := <-events:
			if !ok {
				return errors.New("the nf_tables event stream ended")
			}
			received := time.Now()
			by, fromUs := generator(gen)
			if fromUs {
				continue
			}
			if touched, deleted := concerns(gen, b); touched {
				check(by, received, deleted)
			}
		}
	}
}

// generator names who made a transaction, and whether it was this
// process. The kernel gives the id of the thread that sent it, which for
// this process is one of its tasks.
func generator(gen *nftables.MonitorEvents) (string, bool) {
	if gen.GeneratedBy == nil {
		return "", false
	}
	g, ok := gen.GeneratedBy.Data.(*nftables.GenMsg)
	if !ok {
		return "", false
	}
	_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", g.ProcPID))
	return fmt.Sprintf("%s[%d]", g.ProcComm, g.ProcPID), err == nil
}

// concerns reports whether a transaction touched one of b's tables, or
// may have (events that name no table count, as does a lost event), and
// whether it deleted one.
func concerns(gen *nftables.MonitorEvents, b *nft.Batch) (touched, deleted bool) {
	if gen.GeneratedBy != nil && gen.GeneratedBy.Type == nftables.MonitorEventTypeOOB {
		return true, false
	}
	for _, c := range gen.Changes {
		var t *nftables.Table
		switch d := c.Data.(type) {
		case *nftables.Table:
			t = d
			if b.Table(t) != nil {
				// Deleted, unless the same transaction added it again.
				deleted = c.Type == nftables.MonitorEventTypeDelTable
			}
		case *nftables.Chain:
			t = d.Table
		case *nftables.Rule:
			t = d.Table
		case *nftables.Set:
			t = d.Table
		}
		if t == nil || b.Table(t) != nil {
			touched = true
		}
	}
	return touched, deleted
}

func changedLines(d []DiffLine) []DiffLine {
	var out []DiffLine
	for _, l := range d {
		if l.Op != ' ' {
			out = append(out, l)
		}
	}
	return out
}

// applyRestore puts b's tables back in the namespace nsFd refers to, in
// place where they are still there (see transition), leaving every other
// table alone.
func applyRestore(b *nft.Batch, nsFd int) error {
	tr := &transition{
		nsFd: nsFd,
		dial: func(fixes ...func(*netlink.Message)) (batchConn, func(), error) {
			return dialFixing(nsFd, append([]func(*netlink.Message){fixHostOrderSet, noEcho}, fixes...)...)
		},
		wanted: batchWanted(b),
		gone:   func(TableRef, uint32) bool { return false },
	}
	return tr.run()
}
