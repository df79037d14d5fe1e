// Package kernel sends nft batches to the kernel as one netlink
// transaction, and reads rulesets back to compare, restore or remove
// them: the I/O half of the nft target, kept apart from its pure lowering
// (package nft) so that the lowering is tested without root.
package kernel

import (
	"errors"
	"fmt"
	"runtime"
	"sort"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/mdlayher/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ApplyError is a refusal by the kernel, traced back to the policy.
type ApplyError struct {
	Pos  ir.Pos // the rule (or table) the kernel refused; invalid when unknown
	What string // the refused rule's text, or the table's name
	Err  error
}

func (e *ApplyError) Error() string {
	if !e.Pos.IsValid() {
		return fmt.Sprintf("the kernel refused the ruleset: %v", e.Err)
	}
	return fmt.Sprintf("%s: the kernel refused %s: %v", e.Pos, e.What, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Refused is the refused policy line, and what to say there.
func (e *ApplyError) Refused() (ir.Pos, string) {
	return e.Pos, fmt.Sprintf("the kernel refused %s: %v", e.What, e.Err)
}

// Dial opens a netlink connection to nf_tables in the namespace at nsPath
// (the current one when empty); close it with CloseLasting. The socket is
// opened here, while the namespace's file descriptor is open, and belongs to
// that namespace for its whole life. (A connection that dialled later, at
// Flush, would use a descriptor closed by then: the batch could land in the
// wrong namespace.)
func Dial(nsPath string) (*nftables.Conn, error) {
	if nsPath == "" {
		return nftables.New(nftables.AsLasting(), nftables.WithSockOptions(bigBuffers))
	}
	h, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", nsPath, err)
	}
	defer h.Close()
	return dialHandle(h)
}

// dialHandle opens a lasting connection into the namespace h refers to,
// with buffers big enough for large sets.
func dialHandle(h netns.NsHandle) (*nftables.Conn, error) {
	return nftables.New(nftables.WithNetNSFd(int(h)), nftables.AsLasting(), nftables.WithSockOptions(bigBuffers))
}

// Apply puts the batch's tables in place, replacing those of the same
// names (and, when the policy owns the ruleset, deleting every other),
// closed at every instant (see transition): the swap is one transaction,
// which the kernel applies all or none of, so on any error the previous
// ruleset is exactly as it was. On a refusal the error is an *ApplyError
// naming the policy line, found by replaying the batch in a scratch
// namespace.
func Apply(b *nft.Batch, nsPath string) error {
	h, err := nsenter.Open(nsPath)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := resolve(b, h); err != nil {
		return err
	}
	tr := &transition{
		nsFd: int(h),
		dial: func(fixes ...func(*netlink.Message)) (batchConn, func(), error) {
			return dialFixing(int(h), append([]func(*netlink.Message){fixHostOrderSet, noEcho}, fixes...)...)
		},
		wanted: batchWanted(b, nil),
		gone:   func(_ TableRef, flags uint32) bool { return b.FlushRuleset && flags&TableOwner == 0 },
	}
	err = tr.run()
	var refused *swapRefused
	if errors.As(err, &refused) {
		return errors.Join(locateRefusal(b, refused.err), refused.undoErr)
	}
	return err
}

// batchWanted is b's tables as a transition puts them in place, but for
// the sets keep names, which stay as they are.
func batchWanted(b *nft.Batch, keep map[TableRef]map[string]bool) []*wantedTable {
	wanted := make([]*wantedTable, len(b.Tables))
	for i, t := range b.Tables {
		w := &wantedTable{table: t.Table}
		for _, ch := range t.Chains {
			w.chains = append(w.chains, shapeOfChain(ch.Chain, nil))
		}
		kept := keep[RefOf(t.Table)]
		w.queue = func(c batchConn) error {
			n := 0
			return queueBatchTable(c, t, -1, &n, c.addRules(tableRules(t)), kept)
		}
		wanted[i] = w
	}
	return wanted
}

func tableRules(t *nft.BatchTable) []*nftables.Rule {
	var rules []*nftables.Rule
	for _, ch := range t.Chains {
		for _, r := range ch.Rules {
			rules = append(rules, r.Rule)
		}
	}
	return rules
}

// queue adds the batch's messages to c, for a namespace with nothing in
// it: the tables and chains, and the first rules rules of the batch (all
// when rules < 0).
func queue(c batchConn, b *nft.Batch, rules int) error {
	if err := b.Unresolved(); err != nil {
		return err
	}
	if b.FlushRuleset {
		c.FlushRuleset()
	}
	all := b.Rules()
	if rules >= 0 && rules < len(all) {
		all = all[:rules]
	}
	queued := make([]*nftables.Rule, len(all))
	for i, r := range all {
		queued[i] = r.Rule
	}
	addRule := c.addRules(queued)
	n := 0
	for _, t := range b.Tables {
		if err := queueBatchTable(c, t, rules, &n, addRule, nil); err != nil {
			return err
		}
	}
	return nil
}

// queueBatchTable adds t, its sets (but those kept names, which are
// there already) and chains to c, and its rules while fewer than rules
// (all when rules < 0) have been added, counting them in n. A table,
// chain or set that exists is updated: a transition has emptied it.
func queueBatchTable(c batchConn, t *nft.BatchTable, rules int, n *int, addRule func(*nftables.Rule), kept map[string]bool) error {
	c.AddTable(t.Table)
	for _, s := range t.Sets {
		if kept[s.Set.Name] {
			continue
		}
		if err := addNamedSet(c, s); err != nil {
			return &ApplyError{What: "set " + s.Set.Name, Err: err}
		}
	}
	// Every chain before any rule: a rule may jump to a chain declared
	// after its own.
	for _, ch := range t.Chains {
		c.AddChain(ch.Chain)
	}
	for _, ch := range t.Chains {
		for _, r := range ch.Rules {
			if rules >= 0 && *n >= rules {
				continue
			}
			*n++
			for _, s := range r.Sets {
				// After an AddSet error the queued batch is incomplete:
				// the caller must drop c, never flush it.
				if err := addAnonymousSet(c, s); err != nil {
					return &ApplyError{Pos: r.Pos, What: "rule \"" + r.Text() + "\"", Err: err}
				}
			}
			addRule(r.Rule)
		}
	}
	return nil
}

// setChunk is how many elements one message carries: a single message with
// thousands fails with ENOBUFS or EMSGSIZE (google/nftables issue 350).
// Even, so that a range's start and end travel together.
const setChunk = 1024

// addNamedSet queues a named set and its elements in chunks, all in the
// same transaction.
func addNamedSet(c batchConn, s *nft.BatchSet) error {
	if err := c.AddSet(s.Set, nil); err != nil {
		return err
	}
	return s.Chunks(setChunk, func(elems []nftables.SetElement) error { return c.addElements(s.Set, elems) })
}

// addAnonymousSet queues a rule's set. Past a chunk its elements go in
// chunks too: the kernel refuses one message of tens of thousands.
// SetAddElements refuses an anonymous set, but a copy not marked so
// reaches the same set by its ID.
//
// The set must still say how many elements it will hold, as nft's does: a
// hash set sized for none grows in the background after the batch, and
// until it has, the kernel lists some elements twice and others not at
// all. google/nftables sizes a constant set by the elements AddSet sends
// (none here); Size adds a second size, which the kernel reads last.
func addAnonymousSet(c batchConn, s *nft.BatchSet) error {
	if s.Len() <= setChunk {
		return c.AddSet(s.Set, s.Elements())
	}
	sized := *s.Set
	sized.Size = uint32(s.Len())
	if err := c.AddSet(&sized, nil); err != nil {
		return err
	}
	filler := sized
	filler.Anonymous = false
	return s.Chunks(setChunk, func(elems []nftables.SetElement) error { return c.addElements(&filler, elems) })
}

// bufferSize is the socket buffer ksc asks for: a batch of 100,000 rules
// gets as many acknowledgements, which overflow the default buffer (and
// the net.core.rmem_max cap of SO_RCVBUF) with ENOBUFS.
const bufferSize = 256 << 20

// bigBuffers lets a batch of many messages through the socket: it forces
// the buffer sizes past the system caps (SO_*BUFFORCE, which needs the same
// CAP_NET_ADMIN as changing the ruleset), or asks politely without it.
func bigBuffers(conn *netlink.Conn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var forced error
	if err := raw.Control(func(fd uintptr) {
		forced = errors.Join(
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bufferSize),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, bufferSize))
	}); err != nil {
		return err
	}
	if forced != nil {
		conn.SetReadBuffer(bufferSize)
		conn.SetWriteBuffer(bufferSize)
	}
	return nil
}

// locateRefusal finds which rule made the kernel refuse the batch: the
// kernel's answer does not say. It replays growing prefixes of the batch in
// a fresh, empty namespace (never the target one) and bisects for the
// first prefix that fails. When even the tables and chains alone fail, the
// error names no rule.
func locateRefusal(b *nft.Batch, flushErr error) error {
	unknown := &ApplyError{Err: flushErr}
	if errors.Is(flushErr, unix.ENOBUFS) || errors.Is(flushErr, unix.EMSGSIZE) {
		// The batch's size, not a rule, was refused: bisecting would
		// blame whichever rule crossed the limit.
		return &ApplyError{Err: fmt.Errorf("the batch is too large for the netlink socket (%d rules): %w", len(b.Rules()), flushErr)}
	}
	scratch, err := scratchNamespace()
	if err != nil {
		return unknown
	}
	defer scratch.Close()
	try := func(rules int) bool {
		c, err := dialHandle(scratch)
		if err != nil {
			return false
		}
		defer c.CloseLasting()
		c.FlushRuleset()
		if queue(batchConn{Conn: c}, b, rules) != nil {
			return false
		}
		return c.Flush() == nil
	}
	rules := b.Rules()
	if !try(0) || try(len(rules)) {
		return unknown
	}
	// The smallest prefix length that fails ends with the refused rule.
	n := sort.Search(len(rules)+1, func(n int) bool { return !try(n) })
	if n == 0 || n > len(rules) {
		return unknown
	}
	r := rules[n-1]
	return &ApplyError{Pos: r.Pos, What: "rule \"" + r.Text() + "\"", Err: flushErr}
}

// scratchNamespace creates an empty network namespace that lives as long as
// the returned handle. The thread that created it is left locked inside it,
// so the Go runtime discards that thread.
func scratchNamespace() (netns.NsHandle, error) {
	type result struct {
		h   netns.NsHandle
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.New()
		done <- result{h, err}
	}()
	r := <-done
	if r.err != nil {
		return 0, fmt.Errorf("creating a scratch namespace: %w", r.err)
	}
	return r.h, nil
}
