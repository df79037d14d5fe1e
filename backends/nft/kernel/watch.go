package kernel

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/mdlayher/netlink"
	"github.com/vishvananda/netns"
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

// A Keeper says what Watch keeps in force. Watch asks it again before
// each check, so that the policy of a newer "ksc apply", or nothing after
// "ksc remove", is what Watch keeps, and not the policy it began with.
type Keeper interface {
	// Desired is the batch to keep in force (nil when there is none), and
	// what to call when the check, and repair, are done: until then, no
	// other ksc changes the ruleset (see cmd/ksc's change lock).
	Desired() (b *nft.Batch, release func(), err error)
	// Repair carries out repair, which puts b back (see flows.Transition,
	// which closes the flows that started while b was not in force).
	Repair(b *nft.Batch, repair func() error) error
}

// Keep is a Keeper of b, always, with no more to a repair than itself.
func Keep(b *nft.Batch) Keeper { return fixed{b} }

type fixed struct{ b *nft.Batch }

func (f fixed) Desired() (*nft.Batch, func(), error)           { return f.b, func() {}, nil }
func (f fixed) Repair(_ *nft.Batch, repair func() error) error { return repair() }

// Watch keeps the tables of the keeper's batch in the namespace at nsPath
// as applying it makes them, until ctx ends. It listens to nf_tables' own
// events, and when another program's transaction deletes or changes one
// of the batch's tables (a "nft flush ruleset", a firewall reload), it
// puts the tables back in place (see transition), and reports. Its own
// transactions are recognised by their process id and never answered,
// and it acts only on a difference from what the batch makes, so it
// cannot loop. Other programs' tables are never touched, even for a
// policy that flushes the ruleset when applied.
//
// A repair reads and sends only what may have changed: a set's elements
// are read when an event says they changed (a 150,000-element set took
// seconds to read, and as long to send again), and a set that is as the
// batch makes it stays, elements and all.
func Watch(ctx context.Context, nsPath string, keeper Keeper, report func(Repair)) error {
	h, err := nsenter.Open(nsPath)
	if err != nil {
		return err
	}
	defer h.Close()
	stop := make(chan struct{})
	defer close(stop)
	events, err := monitor(int(h), stop)
	if err != nil {
		return err
	}
	w := &watcher{h: h, keeper: keeper, report: report, desired: map[*nft.Batch]*watched{}}
	w.check("", time.Now(), nil)
	for {
		select {
		case <-ctx.Done():
			return nil
		case gen, ok := <-events:
			if !ok {
				return errors.New("the nf_tables event stream ended")
			}
			if gen.ours() {
				continue
			}
			w.check(gen.by(), time.Now(), &gen)
		}
	}
}

// watcher is Watch's state.
type watcher struct {
	h      netns.NsHandle
	keeper Keeper
	report func(Repair)
	// desired caches what each batch the keeper gave makes.
	desired map[*nft.Batch]*watched
	recent  []time.Time
}

// watched is a batch and what applying it makes, read back.
type watched struct {
	b       *nft.Batch
	ruleset *nft.Ruleset
	want    []string
}

func (w *watcher) watched(b *nft.Batch) (*watched, error) {
	if d := w.desired[b]; d != nil {
		return d, nil
	}
	if err := resolve(b, w.h); err != nil {
		return nil, err
	}
	desired, err := applyInScratch(b, false)
	if err != nil {
		return nil, err
	}
	desired.MarkRuntime(b)
	d := &watched{b: b, ruleset: desired, want: desired.Fingerprint(b.Owns)}
	w.desired = map[*nft.Batch]*watched{b: d} // the keeper's earlier batches are done with
	return d, nil
}

// check compares the batch's tables with the live ones after gen (the
// check at the start when nil), and repairs them.
func (w *watcher) check(by string, since time.Time, gen *generation) {
	b, release, err := w.keeper.Desired()
	if err == nil {
		defer release()
	}
	if err == nil && b == nil {
		return // nothing to keep in force
	}
	var d *watched
	if err == nil {
		d, err = w.watched(b)
	}
	if err != nil {
		w.report(Repair{By: by, Err: err})
		return
	}
	if gen != nil && !gen.lost && !concerns(*gen, b) {
		return
	}
	r := Repair{By: by}
	var keep map[TableRef]map[string]bool
	if gen != nil && deletedOne(*gen, b) {
		// One of the tables was deleted: no need to read the ruleset
		// (which waits for the deletion's clean-up) to know that.
		r.Changes = changedLines(diffLines(nil, lines(d.ruleset, b.Owns, b)))
	} else {
		live, err := w.read(d, gen)
		if err != nil {
			w.report(Repair{By: by, Err: err})
			return
		}
		if slices.Equal(live.Fingerprint(b.Owns), d.want) {
			return
		}
		r.Changes = changedLines(diffLines(lines(orderedLike(live, d.ruleset), b.Owns, nil), lines(d.ruleset, b.Owns, b)))
		keep = unchangedSets(live, d.ruleset, b)
	}
	restore := *b
	restore.FlushRuleset = false // put back ours; leave the others' tables be
	r.Err = w.keeper.Repair(b, func() error { return applyRestore(&restore, int(w.h), keep) })
	r.Took = time.Since(since)
	w.report(r)
	w.recent = append(w.recent, time.Now())
	if len(w.recent) > fightRepairs {
		w.recent = w.recent[1:]
		if time.Since(w.recent[0]) < fightWindow {
			w.report(Repair{By: by, Paused: fightWindow})
			time.Sleep(fightWindow)
		}
	}
}

// read reads the live ruleset; a set of the batch's whose elements gen
// did not change is taken to hold what it held when last checked, which
// is what the batch gives it (it was checked, or repaired, since). At the
// start, and after lost events, every set is read.
func (w *watcher) read(d *watched, gen *generation) (*nft.Ruleset, error) {
	c, err := dialHandle(w.h)
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	var known knownElements
	if gen != nil && !gen.lost {
		desired := d.ruleset
		known = func(t *nftables.Table, s *nftables.Set) (nft.Elements, bool) {
			dt := desired.Table(t.Family, t.Name)
			if dt == nil || s.Anonymous || gen.elements[RefOf(t)][s.Name] {
				return nft.Elements{}, false
			}
			if ds := dt.Sets[s.Name]; ds != nil {
				return ds.Elements, true
			}
			return nft.Elements{}, false
		}
	}
	live, err := readKnowing(c, handlePath(w.h), known)
	if err == nil {
		live.MarkRuntime(d.b)
	}
	return live, err
}

// unchangedSets are the named sets of b's tables that are live as b makes
// them (a declared set's elements are the kernel's, and stay): a repair
// leaves them in place, rather than send their elements again.
func unchangedSets(live, desired *nft.Ruleset, b *nft.Batch) map[TableRef]map[string]bool {
	keep := map[TableRef]map[string]bool{}
	for _, bt := range b.Tables {
		lt, dt := live.Table(bt.Table.Family, bt.Table.Name), desired.Table(bt.Table.Family, bt.Table.Name)
		if lt == nil || dt == nil {
			continue
		}
		for _, bs := range bt.Sets {
			name := bs.Set.Name
			ls, ds := lt.Sets[name], dt.Sets[name]
			if ls == nil || ds == nil || !slices.Equal(ls.Attrs, ds.Attrs) || lt.SetFingerprint(name) != dt.SetFingerprint(name) {
				continue
			}
			ref := RefOf(bt.Table)
			if keep[ref] == nil {
				keep[ref] = map[string]bool{}
			}
			keep[ref][name] = true
		}
	}
	return keep
}

// concerns reports whether a transaction touched one of b's tables.
func concerns(gen generation, b *nft.Batch) bool {
	for ref := range gen.touched {
		if b.Table(&nftables.Table{Family: ref.Family, Name: ref.Name}) != nil {
			return true
		}
	}
	return false
}

// deletedOne reports whether a transaction deleted one of b's tables.
func deletedOne(gen generation, b *nft.Batch) bool {
	for ref, gone := range gen.deleted {
		if gone && b.Table(&nftables.Table{Family: ref.Family, Name: ref.Name}) != nil {
			return true
		}
	}
	return false
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
// table alone, and the sets keep names as they are.
func applyRestore(b *nft.Batch, nsFd int, keep map[TableRef]map[string]bool) error {
	if err := b.Unresolved(); err != nil {
		return err
	}
	tr := &transition{
		nsFd: nsFd,
		dial: func(fixes ...func(*netlink.Message)) (batchConn, func(), error) {
			return dialFixing(nsFd, append([]func(*netlink.Message){fixHostOrderSet, noEcho}, fixes...)...)
		},
		wanted: batchWanted(b, keep),
		gone:   func(TableRef, uint32) bool { return false },
		keep:   func(t TableRef, set string) bool { return keep[t][set] },
	}
	return tr.run()
}
