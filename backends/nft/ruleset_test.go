package nft

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A set's fingerprint writes each element as fmt's "%x/%v" would.
func TestElementTexts(t *testing.T) {
	elems := []nftables.SetElement{
		{Key: []byte{192, 0, 2, 1}},
		{Key: []byte{192, 0, 2, 255}, IntervalEnd: true},
		{Key: []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
		{Key: nil},
	}
	var want []string
	for _, e := range elems {
		want = append(want, fmt.Sprintf("%x/%v", e.Key, e.IntervalEnd))
	}
	whole := ElementsOf(elems)
	assert.Equal(t, want, elementTexts(&whole))
	var plain Elements
	for _, e := range elems {
		plain.Add(e.Key, e.IntervalEnd)
	}
	assert.Equal(t, want, elementTexts(&plain))
	assert.Empty(t, elementTexts(&Elements{}))
}

// Plain elements, in one buffer, read back as the library's elements.
func TestPlainElementsAreTheLibrarys(t *testing.T) {
	elems := []nftables.SetElement{
		{Key: []byte{192, 0, 2, 1}},
		{Key: []byte{192, 0, 2, 255}, IntervalEnd: true},
		{Key: []byte{198, 51, 100, 0}},
	}
	var plain Elements
	plain.Grow(2, 4)
	for _, e := range elems {
		plain.Add(e.Key, e.IntervalEnd)
	}
	require.Equal(t, len(elems), plain.Len())
	assert.Equal(t, elems, plain.Library(0, plain.Len()))
	assert.Equal(t, elems[1:2], plain.Library(1, 2))
	assert.Empty(t, plain.Library(3, 3))
	for i, e := range elems {
		assert.Equal(t, e.Key, plain.Key(i))
		assert.Equal(t, e.IntervalEnd, plain.IntervalEnd(i))
		assert.Len(t, plain.Key(i), cap(plain.Key(i)), "appending to a key must not write into the next")
	}
	whole := ElementsOf(elems)
	assert.Equal(t, elems, whole.Library(0, whole.Len()))
}

// A map's fingerprint holds what each element maps to, so that status,
// diff and the check of a restore see a change of data, not only of keys;
// a counter and the time an element has left change by themselves and
// stay out.
func TestMapFingerprintHoldsItsData(t *testing.T) {
	fingerprint := func(dataType nftables.SetDatatype, elems ...nftables.SetElement) string {
		table := &LiveTable{Sets: map[string]*LiveSet{"m": {
			Set:      &nftables.Set{Name: "m", IsMap: true, KeyType: nftables.TypeIPAddr, DataType: dataType},
			Elements: ElementsOf(elems),
		}}}
		return table.SetFingerprint("m")
	}
	key := []byte{192, 0, 2, 1}
	base := fingerprint(nftables.TypeMark, nftables.SetElement{Key: key, Val: []byte{1, 0, 0, 0}})
	for name, other := range map[string]string{
		"data":      fingerprint(nftables.TypeMark, nftables.SetElement{Key: key, Val: []byte{2, 0, 0, 0}}),
		"data type": fingerprint(nftables.TypeIPAddr, nftables.SetElement{Key: key, Val: []byte{1, 0, 0, 0}}),
		"verdict": fingerprint(nftables.TypeVerdict, nftables.SetElement{Key: key,
			VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: "c2"}}),
		"range end": fingerprint(nftables.TypeMark, nftables.SetElement{Key: key, KeyEnd: []byte{192, 0, 2, 9}, Val: []byte{1, 0, 0, 0}}),
		"timeout":   fingerprint(nftables.TypeMark, nftables.SetElement{Key: key, Val: []byte{1, 0, 0, 0}, Timeout: time.Minute}),
		"comment":   fingerprint(nftables.TypeMark, nftables.SetElement{Key: key, Val: []byte{1, 0, 0, 0}, Comment: "why"}),
	} {
		assert.NotEqual(t, base, other, "a different %s must give a different fingerprint", name)
	}
	assert.NotEqual(t,
		fingerprint(nftables.TypeVerdict, nftables.SetElement{Key: key, VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: "c2"}}),
		fingerprint(nftables.TypeVerdict, nftables.SetElement{Key: key, VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: "c3"}}))
	assert.Equal(t, base, fingerprint(nftables.TypeMark, nftables.SetElement{Key: key, Val: []byte{1, 0, 0, 0},
		Expires: time.Second, Counter: &expr.Counter{Packets: 5}}))
}
