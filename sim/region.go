package sim

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/region"
)

// A Fate is a part of a region of packets and what the policy does with
// every packet of it, as Evaluate would for each: the verdict, and the
// rule that decides (nil for a chain's policy). Where the way there took
// a rule the region cannot say whether it holds (a rate, a named set, a
// mask, a field some packets lack) or a change it cannot follow exactly
// (a mark made from another, an address masquerade picks, a hop count),
// Maybe says which and why: the verdict is then one that some of the
// packets may get, not one all of them do.
//
// Packets is the part as the deciding chain saw it: where a rule set a
// mark or rewrote an address on the way (Rewritten), its values of those
// fields are the new ones, and which packets had which before is lost.
type Fate struct {
	Packets region.Cube
	// Holes are parts of Packets that are not the fate's: what earlier
	// rules took of a part that went on (kept so, not cut into pieces,
	// so that a chain of ten thousand rules leaves one remainder).
	Holes     []region.Cube
	Verdict   ir.Verdict
	By        *ir.Rule
	Maybe     []Unsure
	Rewritten []ir.Field
	// before holds, for each rewritten field, its values before the
	// first rewrite: what the rules before it made of them.
	before map[ir.Field]ir.Set
}

// Has reports whether packet p may be the fate's, as it came (see
// Original).
func (f Fate) Has(p ir.Packet) bool {
	return f.Original().Has(p) && !slices.ContainsFunc(f.Holes, func(h region.Cube) bool { return h.Has(p) })
}

// Cubes are the fate's packets as they came (Original) less its holes, as
// cubes that do not overlap; false past max of them.
func (f Fate) Cubes(max int) ([]region.Cube, bool) {
	return region.Carve([]region.Cube{f.Original()}, f.Holes, max)
}

// Original is the packets of the fate as they came: Packets, with each
// rewritten field's values as they were before the rewrite (the rules
// after it may have cut the rewritten values further, which says nothing
// of the old ones: Original may hold more than the fate's packets, never
// fewer).
func (f Fate) Original() region.Cube {
	c := f.Packets
	for _, field := range f.Rewritten {
		c = c.Put(field, f.before[field])
	}
	return c
}

// Unsure is a rule the region could not decide for a part: why, and for
// a rule that may hold or not, which way the part went (Holds +1 where
// the rule held, -1 where it did not; 0 for a value it could not follow).
type Unsure struct {
	Rule  *ir.Rule
	Why   string
	Holds int
	// Match is the match the region could not decide, if that is why.
	Match *ir.Match
}

func (u Unsure) String() string { return u.Rule.Pos.String() + " " + u.Why }

// Contradicts reports whether u and v are one condition gone opposite
// ways: the same rule (by what it says, in one policy or two) holding for
// one part and not for the other. No packet can be in both parts.
func (u Unsure) Contradicts(v Unsure) bool {
	return u.Holds*v.Holds == -1 && u.Why == v.Why && ruleText(u.Rule) == ruleText(v.Rule)
}

func ruleText(r *ir.Rule) string {
	var words []string
	for _, m := range r.Matches {
		words = append(words, m.Text())
	}
	return strings.Join(words, " ")
}

// routing stands for the kernel's routing in an Unsure: no rule of the
// policy.
var routing = &ir.Rule{}

// maxPieces bounds the parts a region is cut into on its way: past it,
// Fates gives up rather than answer for part of the packets.
const maxPieces = 20_000

// ErrTooMany is Fates giving up (see maxPieces).
var ErrTooMany = fmt.Errorf("the policy cuts the region into more than %d parts", maxPieces)

// piece is a part of the region on its way, and what made it uncertain.
type piece struct {
	cube      region.Cube
	holes     []region.Cube // see Fate
	maybe     []Unsure
	rewritten []ir.Field
	before    map[ir.Field]ir.Set // see Fate
}

// with is the piece narrowed to c, which its holes are kept with.
func (pc piece) with(c region.Cube, maybe ...Unsure) piece {
	out := pc
	out.cube, out.maybe = c, append(slices.Clip(pc.maybe), maybe...)
	out.holes = nil
	for _, h := range pc.holes {
		if c.Intersects(h) {
			out.holes = append(out.holes, h)
		}
	}
	return out
}

// without is the piece less the packets of cube: one piece with one more
// hole. A hole holds of the packets as they came, which Original needs:
// on a field a rule rewrote, its values in the hole must take all the
// piece's new ones (the field then drops out of it); where they take
// some, the piece is cut into exact pieces instead.
func (pc piece) without(cube region.Cube) ([]piece, bool) {
	hole := cube
	for _, f := range pc.rewritten {
		if !slices.Contains(hole.Fields(), f) {
			continue
		}
		if !hole.Set(f).Contains(pc.cube.Set(f)) {
			exact, ok := pc.exact()
			if !ok {
				return nil, false
			}
			var out []piece
			for _, e := range exact {
				for _, c := range e.cube.Minus(cube) {
					out = append(out, e.with(c))
				}
			}
			return out, len(out) <= maxPieces
		}
		hole = hole.Without(f)
	}
	rest := pc
	rest.holes = append(slices.Clip(pc.holes), hole)
	return []piece{rest}, true
}

// exact is the piece as cubes without holes; false past maxPieces.
func (pc piece) exact() ([]piece, bool) {
	cs, ok := region.Carve([]region.Cube{pc.cube}, pc.holes, maxPieces)
	if !ok {
		return nil, false
	}
	out := make([]piece, len(cs))
	for i, c := range cs {
		out[i] = pc.with(c)
		out[i].holes = nil
	}
	return out, true
}

// put is the piece with its packets' f made to be in set. The piece has
// no holes (exact): a hole says which values of f were taken, before.
func (pc piece) put(f ir.Field, set ir.Set, maybe ...Unsure) piece {
	if len(pc.holes) > 0 {
		panic("sim: a rewrite of a part with holes")
	}
	out := pc.with(pc.cube.Put(f, set), maybe...)
	if !slices.Contains(out.rewritten, f) {
		out.rewritten = append(slices.Clip(out.rewritten), f)
		out.before = maps.Clone(pc.before)
		if out.before == nil {
			out.before = map[ir.Field]ir.Set{}
		}
		out.before[f] = pc.cube.Set(f)
	}
	return out
}

func (pc piece) fate(v ir.Verdict, by *ir.Rule) Fate {
	return Fate{Packets: pc.cube, Holes: pc.holes, Verdict: v, By: by, Maybe: pc.maybe, Rewritten: pc.rewritten, before: pc.before}
}

// unsure says why a rule leaves the region unsure.
func unsure(r *ir.Rule, why string) Unsure { return Unsure{Rule: r, Why: why} }

// Fates sends every packet of region r, going dir, through the policy's
// chains at once: the chains of each hook in priority order, each rule
// cutting the parts it holds for from those it does not, as Evaluate
// does for one packet. Every packet of r is in a fate, and in more than
// one only where their Maybe says why (a rule that may hold or not).
func Fates(p *ir.Policy, dir Direction, r region.Cube) ([]Fate, error) {
	w := &walker{dir: dir, named: r.Fields()}
	var out []Fate
	for _, family := range []ir.Family{ir.IPv4, ir.IPv6} {
		start := r.With(ir.FieldNfproto, ir.NfprotoSet(family))
		if start.Empty() {
			continue
		}
		going := []piece{{cube: start}}
		if cubes := fibCubes(p, dir, family); cubes != nil {
			going = nil
			for _, k := range cubes {
				if c := start.Intersect(k); !c.Empty() {
					going = append(going, piece{cube: c})
				}
			}
		}
		for _, h := range dir.Hooks() {
			w.hook = h
			if dir == Forward && h == ir.HookForward {
				going = w.routed(going)
			}
			for _, tc := range chainsAt(p, h, family) {
				var next []piece
				for _, pc := range going {
					if tc.chain.Type == ir.ChainNAT {
						// Conntrack asks nat chains about a connection's
						// first packet only.
						news := region.Cube{}.With(ir.FieldCtState, ir.NumberSet(uint32(ir.CtNew)))
						if !pc.cube.Intersects(news) {
							next = append(next, pc)
							continue
						}
						others := pc
						others.holes = append(slices.Clip(pc.holes), news)
						next = append(next, others)
						pc = pc.with(pc.cube.Intersect(news))
					}
					ended, passed := w.chain(tc.chain, pc)
					out = append(out, ended...)
					next = append(next, passed...)
				}
				if w.err != nil {
					return nil, w.err
				}
				going = next
			}
		}
		for _, pc := range going {
			out = append(out, pc.fate(ir.Accept, nil))
		}
	}
	return out, w.err
}

type walker struct {
	dir    Direction
	hook   ir.Hook
	pieces int
	err    error
	// named are the fields the region narrows: every packet of it has
	// a value of them, whatever the fields table says of others.
	named []ir.Field
}

// routed is what routing a forwarded packet makes of it: one hop less,
// which the region follows only where it says nothing of hops.
func (w *walker) routed(going []piece) []piece {
	out := going[:0:0]
	for _, pc := range going {
		hops := func(c region.Cube) bool {
			return slices.ContainsFunc(c.Fields(), func(f ir.Field) bool { return f == ir.FieldIPTTL || f == ir.FieldIP6Hoplimit })
		}
		if !hops(pc.cube) && !slices.ContainsFunc(pc.holes, hops) {
			out = append(out, pc)
			continue
		}
		exact, ok := pc.exact()
		if !ok {
			w.err = ErrTooMany
			return nil
		}
		for _, pc := range exact {
			for _, f := range []ir.Field{ir.FieldIPTTL, ir.FieldIP6Hoplimit} {
				pc = pc.put(f, f.Spec().Kind.Universe(), Unsure{Rule: routing, Why: "routing takes a hop off the packet, which the region does not follow"})
			}
			out = append(out, pc)
		}
	}
	return out
}

// chain sends a piece through base chain c: the parts some rule decides
// (ended), and those that go on to the next chain (an accept, or the
// policy accept).
func (w *walker) chain(c *ir.Chain, pc piece) (ended []Fate, passed []piece) {
	decided, left := w.walk(c, []piece{pc})
	for _, d := range decided {
		if d.verdict == ir.Accept || d.verdict == ir.Translate {
			passed = append(passed, d.piece)
			continue
		}
		ended = append(ended, d.fate(d.verdict, d.by))
	}
	for _, l := range left {
		if c.Policy == ir.Accept {
			passed = append(passed, l)
		} else {
			ended = append(ended, l.fate(c.Policy, nil))
		}
	}
	return ended, passed
}

// decision is a part that a rule decided, and how.
type decision struct {
	piece
	verdict ir.Verdict
	by      *ir.Rule
}

// walk sends pieces through chain c and the chains it jumps to, as walk
// does one packet: the parts a rule decides, and those that leave c
// undecided (its end, a return, the end of a chain gone to).
func (w *walker) walk(c *ir.Chain, going []piece) (decided []decision, left []piece) {
	for _, r := range c.Rules {
		if len(going) == 0 {
			break
		}
		var next []piece
		for _, pc := range going {
			held, missed := w.split(r, pc)
			next = append(next, missed...)
			for _, h := range held {
				d, back, leave := w.rule(r, h)
				decided = append(decided, d...)
				next = append(next, back...)
				left = append(left, leave...)
			}
		}
		going = next
		if w.pieces += len(going); w.pieces > maxPieces {
			w.err = ErrTooMany
			return nil, nil
		}
	}
	return decided, append(left, going...)
}

// split cuts a piece into the part rule r holds for and the part it does
// not. Where the region cannot say whether r holds (see Fate), the part
// its other matches hold for goes both ways, marked with r.
func (w *walker) split(r *ir.Rule, pc piece) (held, missed []piece) {
	matches := r.Matches
	if w.dir == Out {
		// What this machine sends has no input interface: its iif and
		// iifgroup have no value, its iifname is the empty name.
		matches = nil
		for _, m := range r.Matches {
			switch {
			case m.Field == ir.FieldIif || m.Field == ir.FieldIifgroup || m.Field == ir.FieldIifname && !m.Holds(ir.Packet{Protocol: m.Protocol}):
				return nil, []piece{pc}
			case m.Field != ir.FieldIifname:
				matches = append(matches, m)
			}
		}
	}
	cube, unsureMatches := region.OfMatches(matches, w.has)
	if f := r.Family(); f != ir.Inet {
		cube = cube.With(ir.FieldNfproto, ir.NfprotoSet(f))
	}
	in := pc.cube.Intersect(cube)
	if in.Empty() {
		return nil, []piece{pc}
	}
	// What the rule may hold for, exactly (the rule's cube is small
	// where it matters), and the rest as a hole in the piece.
	exact, ok := pc.with(in).exact()
	if !ok {
		w.err = ErrTooMany
		return nil, nil
	}
	missed, ok = pc.without(cube)
	if !ok {
		w.err = ErrTooMany
		return nil, nil
	}
	var why Unsure
	switch {
	case r.Unread != nil && !r.Unread.Acts:
		why = unsure(r, "may hold or not: ksc cannot read "+r.Unread.String())
	case len(unsureMatches) == 0:
		return exact, missed
	default:
		why = unsure(r, "may hold or not: "+unsureMatches[0].Text()+" is not a set of values of every packet")
		why.Match = unsureMatches[0]
	}
	yes, no := why, why
	yes.Holds, no.Holds = 1, -1
	for _, e := range exact {
		held = append(held, e.with(e.cube, yes))
		missed = append(missed, e.with(e.cube, no))
	}
	return held, missed
}

// has reports whether every packet of the walk has a value of f at the
// hook: the input interface all but what this machine sends, the output
// interface after routing; a field the region narrows; the rest as the
// fields table says.
func (w *walker) has(f ir.Field) bool {
	switch region.Canonical(f) {
	case ir.FieldIifname, ir.FieldIifgroup:
		return w.dir != Out
	case ir.FieldOifname, ir.FieldOifgroup:
		return w.dir != In && w.hook != ir.HookPrerouting
	}
	return f.Spec().Lacking&(1<<w.hook) == 0 || slices.Contains(w.named, f)
}

// rule carries out rule r for the part it holds for: its statements,
// then its verdict. It returns what the rule decided, what goes on to
// the next rule (no verdict, a limit that stops the rule, a jump come
// back), and what leaves the chain undecided (a return, the end of a
// goto).
func (w *walker) rule(r *ir.Rule, pc piece) (decided []decision, next, leave []piece) {
	if r.Unread != nil && r.Unread.Acts {
		// What it does is not known: a fate without a verdict.
		return []decision{{pc.with(pc.cube, unsure(r, "does what ksc cannot read: "+r.Unread.String())), ir.NoVerdict, r}}, nil, nil
	}
	pc, stopped := w.act(r, pc)
	if stopped != nil {
		next = append(next, *stopped)
	}
	switch r.Verdict {
	case ir.NoVerdict:
		next = append(next, pc)
	case ir.Jump:
		d, back := w.walk(r.Target, []piece{pc})
		decided, next = append(decided, d...), append(next, back...)
	case ir.Goto:
		d, back := w.walk(r.Target, []piece{pc})
		decided, leave = append(decided, d...), back
	case ir.Return:
		leave = append(leave, pc)
	case ir.Accept, ir.Drop, ir.Reject:
		decided = append(decided, decision{pc, r.Verdict, r})
	case ir.Translate:
		decided = append(decided, decision{w.translate(r, pc), ir.Translate, r})
	default:
		panic("sim: rule with verdict " + r.Verdict.String())
	}
	return decided, next, leave
}

// act carries out the rule's statements on the part, as act does on one
// packet: a meta mark set to a number gives every packet that mark; one
// made from a mark, the region does not follow (any mark, unsure). At a
// limit, the packets may be over the rate or under it: the part goes on
// both ways, and stopped is the part as the limit stops it.
func (w *walker) act(r *ir.Rule, pc piece) (acted piece, stopped *piece) {
	for _, s := range r.Statements {
		switch s := s.(type) {
		case *ir.Limit:
			on, off := unsure(r, "holds for the packets "+s.Condition()), unsure(r, "holds for the packets "+s.Condition())
			on.Holds, off.Holds = 1, -1
			stop := pc.with(pc.cube, off)
			stopped, pc = &stop, pc.with(pc.cube, on)
		case *ir.Counter, *ir.Log, *ir.MSSSet, *ir.SetWrite, *ir.Trace:
			// Nothing a cube reads (a set's lookups are unsure anyway).
		case *ir.Notrack:
			pc = pc.put(ir.FieldCtState, ir.CtStateSet(ir.CtUntracked))
		case *ir.DSCPSet:
			pc = pc.put(s.Field, ir.NumberSet(uint32(s.Value)))
		case *ir.MarkSet:
			switch {
			case s.Target != ir.FieldMark:
				// ct mark: no cube reads it (Lacking).
			case s.From == 0:
				pc = pc.put(ir.FieldMark, ir.NumberSet(s.Value))
			default:
				pc = pc.put(ir.FieldMark, ir.FieldMark.Spec().Kind.Universe(), unsure(r, "sets a mark made from another, which the region does not follow"))
			}
		default:
			panic(fmt.Sprintf("sim: a rule with a statement it does not know, %T", s))
		}
	}
	return pc, stopped
}

// translate is what a nat rule makes of the part's addresses and ports,
// as translate does of one packet; an address it cannot know (masquerade,
// a redirect's) becomes any, and Maybe.
func (w *walker) translate(r *ir.Rule, pc piece) piece {
	n := r.NAT
	v4 := !pc.cube.Set(ir.FieldNfproto).Intersect(ir.NfprotoSet(ir.IPv4)).IsEmpty()
	addr := func(daddr bool) ir.Field {
		switch {
		case v4 && daddr:
			return ir.FieldIPDaddr
		case v4:
			return ir.FieldIPSaddr
		case daddr:
			return ir.FieldIP6Daddr
		}
		return ir.FieldIP6Saddr
	}
	addrs := func(a, last netip.Addr) ir.Set {
		if !last.IsValid() {
			last = a
		}
		return ir.NewSet(ir.Span{Lo: ir.AddrKey(a), Hi: ir.AddrKey(last)})
	}
	any := func(f ir.Field) ir.Set { return f.Spec().Kind.Universe() }
	// A range is the packets' new values, each packet's one of them.
	var picks []Unsure
	if n.AddrLast.IsValid() || n.PortLast != 0 {
		picks = append(picks, unsure(r, "picks each packet's new address or port from "+n.Target()))
	}
	ports := func() ir.Set {
		if n.PortLast != 0 {
			return ir.PortSet(ir.PortRange{First: n.Port, Last: n.PortLast})
		}
		return ir.NumberSet(uint32(n.Port))
	}
	switch n.Kind {
	case ir.SNAT:
		pc = pc.put(addr(false), addrs(n.Addr, n.AddrLast), picks...)
	case ir.DNAT:
		pc = pc.put(addr(true), addrs(n.Addr, n.AddrLast), picks...)
	case ir.Redirect:
		pc = pc.put(addr(true), any(addr(true)), unsure(r, "redirects to an address of this machine"))
	case ir.Masquerade:
		pc = pc.put(addr(false), any(addr(false)), unsure(r, "masquerades as an address of this machine"))
	default:
		panic("sim: a nat rule of a kind it does not know, " + n.Kind.String())
	}
	if n.Port != 0 {
		port := ir.FieldDport
		if n.Kind == ir.SNAT || n.Kind == ir.Masquerade {
			port = ir.FieldSport
		}
		pc = pc.put(port, ports(), picks...)
	}
	return pc
}
