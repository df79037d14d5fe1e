package nft

import (
	"fmt"
	"testing"

	"github.com/google/nftables"
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
