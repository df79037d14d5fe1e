package linediff_test

import (
	"strings"
	"testing"

	"github.com/ksc-project/ksc/internal/linediff"
	"github.com/stretchr/testify/assert"
)

func TestUnified(t *testing.T) {
	a := strings.Split("a b c d e f g", " ")
	b := strings.Split("a b x d e f g h", " ")
	assert.Equal(t, []string{" b", "-c", "+x", " d", "...", " g", "+h"}, linediff.Unified(a, b, 1))
	assert.Empty(t, linediff.Unified(a, a, 3))
}
