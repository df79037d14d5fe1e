package main

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

// The status table shows a long rule's start and end, within one line.
func TestRuleColumn(t *testing.T) {
	short := "ip daddr { 192.0.2.1, 192.0.2.2 } accept"
	assert.Equal(t, short, ruleColumn(short))
	exact := strings.Repeat("x", ruleColumnMax)
	assert.Equal(t, exact, ruleColumn(exact))

	var addrs []string
	for i := range 5000 {
		addrs = append(addrs, "198.51."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256))
	}
	long := "ip saddr { " + strings.Join(addrs, ", ") + " } counter drop"
	got := ruleColumn(long)
	assert.Equal(t, ruleColumnMax, utf8.RuneCountInString(got))
	assert.True(t, strings.HasPrefix(got, "ip saddr { 198.51.0.0, 198.51.0.1,"), got)
	assert.True(t, strings.HasSuffix(got, "198.51.19.135 } counter drop"), got)
	assert.Contains(t, got, " … ")

	wide := "iifname { " + strings.Repeat(`"ä", `, 100) + `"ö" } accept`
	got = ruleColumn(wide)
	assert.True(t, utf8.ValidString(got), "cut between characters, not in one")
	assert.Equal(t, ruleColumnMax, utf8.RuneCountInString(got))
}
