package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A generation is one committed nf_tables transaction, as its events tell
// it: what it touched, and who made it.
type generation struct {
	// touched are the tables it changed anything in.
	touched map[TableRef]bool
	// deleted are the tables it deleted (and did not make again).
	deleted map[TableRef]bool
	// elements are the sets whose elements it changed, by table.
	elements map[TableRef]map[string]bool
	pid      int
	comm     string
	// lost says that events were lost (the socket's buffer overflowed):
	// anything may have changed.
	lost bool
}

// ours says whether this process made the transaction: the kernel gives
// the id of the thread that sent it, which for this process is one of its
// tasks.
func (g generation) ours() bool {
	if g.pid == 0 {
		return false
	}
	_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", g.pid))
	return err == nil
}

func (g generation) by() string {
	if g.pid == 0 {
		return ""
	}
	return fmt.Sprintf("%s[%d]", g.comm, g.pid)
}

// nfnlgrpNftables is NFNLGRP_NFTABLES, the multicast group of nf_tables'
// events.
const nfnlgrpNftables = 7

// monitor delivers the generations of the namespace nsFd refers to, until
// stop is closed. google/nftables' monitor decodes a set element event
// without its set or table, which made every element change anywhere (a
// fail2ban ban) look like one to the policy's sets, each a re-read of
// them; these events name both.
func monitor(nsFd int, stop <-chan struct{}) (<-chan generation, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: nsFd, Groups: 1 << (nfnlgrpNftables - 1)})
	if err != nil {
		return nil, fmt.Errorf("listening to nf_tables events: %w", err)
	}
	if err := bigBuffers(c); err != nil {
		c.Close()
		return nil, err
	}
	out := make(chan generation, 64)
	go func() {
		<-stop
		c.Close()
	}()
	go func() {
		defer close(out)
		g := newGeneration()
		for {
			msgs, err := c.Receive()
			switch {
			case errors.Is(err, unix.ENOBUFS):
				out <- generation{lost: true}
				g = newGeneration()
				continue
			case err != nil:
				return // closed
			}
			for _, m := range msgs {
				if g.add(m) {
					select {
					case out <- g:
					case <-stop:
						return
					}
					g = newGeneration()
				}
			}
		}
	}()
	return out, nil
}

func newGeneration() generation {
	return generation{touched: map[TableRef]bool{}, deleted: map[TableRef]bool{}, elements: map[TableRef]map[string]bool{}}
}

// add takes in one event, and reports whether it ended the generation.
func (g *generation) add(m netlink.Message) bool {
	if m.Header.Type>>8 != unix.NFNL_SUBSYS_NFTABLES || len(m.Data) < 4 {
		return false
	}
	family := nftables.TableFamily(m.Data[0])
	attrs := m.Data[4:]
	str := func(want uint16) string {
		var s string
		walkAttrs(attrs, func(typ uint16, value []byte) error {
			if typ == want {
				s = string(trimNUL(value))
			}
			return nil
		})
		return s
	}
	switch msg := int(m.Header.Type & 0xff); msg {
	case unix.NFT_MSG_NEWGEN:
		walkAttrs(attrs, func(typ uint16, value []byte) error {
			switch typ {
			case unix.NFTA_GEN_PROC_PID:
				if len(value) == 4 {
					g.pid = int(binary.BigEndian.Uint32(value))
				}
			case unix.NFTA_GEN_PROC_NAME:
				g.comm = string(trimNUL(value))
			}
			return nil
		})
		return true
	case unix.NFT_MSG_NEWTABLE, unix.NFT_MSG_DELTABLE:
		ref := TableRef{family, str(unix.NFTA_TABLE_NAME)}
		g.touched[ref] = true
		g.deleted[ref] = msg == unix.NFT_MSG_DELTABLE // made again: not deleted
	case unix.NFT_MSG_NEWCHAIN, unix.NFT_MSG_DELCHAIN:
		g.touched[TableRef{family, str(unix.NFTA_CHAIN_TABLE)}] = true
	case unix.NFT_MSG_NEWRULE, unix.NFT_MSG_DELRULE:
		g.touched[TableRef{family, str(unix.NFTA_RULE_TABLE)}] = true
	case unix.NFT_MSG_NEWSET, unix.NFT_MSG_DELSET:
		ref := TableRef{family, str(unix.NFTA_SET_TABLE)}
		g.touched[ref] = true
		g.element(ref, str(unix.NFTA_SET_NAME))
	case unix.NFT_MSG_NEWSETELEM, unix.NFT_MSG_DELSETELEM:
		ref := TableRef{family, str(unix.NFTA_SET_ELEM_LIST_TABLE)}
		g.touched[ref] = true
		g.element(ref, str(unix.NFTA_SET_ELEM_LIST_SET))
	case unix.NFT_MSG_NEWOBJ, unix.NFT_MSG_DELOBJ:
		g.touched[TableRef{family, str(unix.NFTA_OBJ_TABLE)}] = true
	case unix.NFT_MSG_NEWFLOWTABLE, unix.NFT_MSG_DELFLOWTABLE:
		g.touched[TableRef{family, str(nftaFlowtableTable)}] = true
	}
	return false
}

func (g *generation) element(t TableRef, set string) {
	if g.elements[t] == nil {
		g.elements[t] = map[string]bool{}
	}
	g.elements[t][set] = true
}
