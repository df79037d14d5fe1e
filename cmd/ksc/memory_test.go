package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCollectHarderForLargePolicies(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		gogc string
		want int
	}{
		{"a small policy", largePolicy - 1, "", 100},
		{"a large policy", largePolicy, "", 50},
		{"GOGC set by the user", largePolicy, "200", 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.gogc)
			old := debug.SetGCPercent(100)
			defer debug.SetGCPercent(old)
			collectHarderFor(tc.size)
			assert.Equal(t, tc.want, debug.SetGCPercent(100))
		})
	}
}
