package nft

import (
	"fmt"
	"testing"

	"github.com/google/nftables"
	"github.com/stretchr/testify/assert"
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
	assert.Equal(t, want, elementTexts(elems))
	assert.Empty(t, elementTexts(nil))
}
