package kernel

import (
	"testing"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// sentBatch is the messages a Flush of what queue adds sends, each passed
// through fix on its way as dialFixing passes them.
func sentBatch(t *testing.T, queue func(*nftables.Conn) error, fix func(*netlink.Message)) []netlink.Message {
	t.Helper()
	var sent []netlink.Message
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		for i := range req {
			fix(&req[i])
			req[i].Header.Sequence = 0 // each connection starts its own
		}
		sent = append(sent, req...)
		return []netlink.Message{{Header: netlink.Header{Type: netlink.Error}, Data: make([]byte, 4)}}, nil
	}))
	require.NoError(t, err)
	require.NoError(t, queue(c))
	require.NoError(t, c.Flush())
	return sent
}

// A batch whose plain elements ksc encodes is, byte for byte, the batch
// google/nftables would send: keys of every width (ports pad to four
// bytes), interval ends, concatenated ranges' key ends, runs of several
// messages, and elements the library must encode itself.
func TestPlainElementsAreTheLibrarysBytes(t *testing.T) {
	table := &nftables.Table{Name: "filter", Family: nftables.TableFamilyINet}
	set := func(name string, key nftables.SetDatatype, interval bool) *nftables.Set {
		return &nftables.Set{Table: table, Name: name, ID: 7, KeyType: key, Interval: interval}
	}
	keys := func(n, width int) []nftables.SetElement {
		out := make([]nftables.SetElement, n)
		for i := range out {
			out[i].Key = make([]byte, width)
			out[i].Key[0], out[i].Key[width-1] = byte(i>>8), byte(i)
		}
		return out
	}
	ranges := keys(6, 4)
	for i := 1; i < len(ranges); i += 2 {
		ranges[i].IntervalEnd = true
	}
	concat := keys(3, 8)
	for i := range concat {
		concat[i].KeyEnd = append([]byte{}, concat[i].Key...)
		concat[i].KeyEnd[7]++
	}
	tests := []struct {
		name  string
		set   *nftables.Set
		runs  [][]nftables.SetElement
		plain bool // ksc encodes them
	}{
		{"IPv4 addresses", set("a", nftables.TypeIPAddr, false), [][]nftables.SetElement{keys(3, 4)}, true},
		{"ports pad to four bytes", set("p", nftables.TypeInetService, false), [][]nftables.SetElement{keys(5, 2)}, true},
		{"IPv6 addresses", set("a6", nftables.TypeIP6Addr, false), [][]nftables.SetElement{keys(2, 16)}, true},
		{"interval ends", set("r", nftables.TypeIPAddr, true), [][]nftables.SetElement{ranges}, true},
		{"concatenated ranges", set("c", nftables.TypeIPAddr, true), [][]nftables.SetElement{concat}, true},
		{"runs of a large set", set("big", nftables.TypeIPAddr, false), [][]nftables.SetElement{keys(setChunk, 4), keys(setChunk, 4), keys(3, 4)}, true},
		{"a comment is the library's", set("m", nftables.TypeIPAddr, false), [][]nftables.SetElement{{{Key: []byte{192, 0, 2, 1}, Comment: "x"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := sentBatch(t, func(c *nftables.Conn) error {
				for _, run := range tt.runs {
					if err := c.SetAddElements(tt.set, run); err != nil {
						return err
					}
				}
				return nil
			}, func(*netlink.Message) {})
			runs := elementSlots()
			got := sentBatch(t, func(c *nftables.Conn) error {
				for _, run := range tt.runs {
					if err := runs.addElementRun(c, tt.set, run); err != nil {
						return err
					}
				}
				if tt.plain {
					assert.Len(t, runs.encoded, len(tt.runs), "each run is ksc's to encode")
				} else {
					assert.Empty(t, runs.encoded, "the library encodes what is not plain")
				}
				return nil
			}, runs.fill)
			assert.Equal(t, want, got)
			assert.Empty(t, runs.encoded, "every run is filled in")
		})
	}
}

// The largest run ksc sends, a chunk of IPv6 range ends, fits one
// attribute's 16-bit length; a list too long for it is the library's.
func TestTooManyElementsForOneAttributeAreTheLibrarys(t *testing.T) {
	ipv6Ends := func(n int) []nftables.SetElement {
		elems := make([]nftables.SetElement, n)
		for i := range elems {
			elems[i] = nftables.SetElement{Key: make([]byte, 16), IntervalEnd: true}
		}
		return elems
	}
	_, ok := encodePlainElements(ipv6Ends(setChunk))
	assert.True(t, ok)
	_, ok = encodePlainElements(ipv6Ends(3 * setChunk))
	assert.False(t, ok, "36 bytes an element")
}

// A dump's elements decode to what was encoded, the set's other
// attributes passed over; a malformed or not plain list is an error.
func TestDumpedElementsDecode(t *testing.T) {
	elems := make([]nftables.SetElement, 5)
	for i := range elems {
		elems[i] = nftables.SetElement{Key: []byte{192, 0, 2, byte(i)}, IntervalEnd: i%2 == 1}
	}
	list, ok := encodePlainElements(elems)
	require.True(t, ok)
	var a attrs
	a.str(unix.NFTA_SET_ELEM_LIST_TABLE, "filter")
	a.str(unix.NFTA_SET_ELEM_LIST_SET, "blocklist")
	message := append(a.b, list...)

	var read nft.Elements
	require.NoError(t, addPlainElements(&read, message))
	require.NoError(t, addPlainElements(&read, message))
	got := read.Library(0, read.Len())
	assert.Equal(t, append(elems, elems...), got)
	assert.Equal(t, cap(got[0].Key), len(got[0].Key), "a key's append cannot reach the next")

	for _, bad := range [][]byte{message[:len(message)-1], {1, 0, 0}, {3, 0, 1, 0}, {200, 0, 1, 0}} {
		assert.Error(t, addPlainElements(&nft.Elements{}, bad), "%x", bad)
	}
	withEnd, ok := encodePlainElements([]nftables.SetElement{{Key: []byte{1}, KeyEnd: []byte{2}}})
	require.True(t, ok)
	assert.ErrorIs(t, addPlainElements(&nft.Elements{}, withEnd), errNotPlain)
}
