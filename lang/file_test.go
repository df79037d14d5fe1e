package lang_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFileSets(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	policy := "define BAD = file(\"list.txt\")\ndefine GONE = file(\"missing.txt\")\ntable t {\nchain c hook input {\nip saddr $BAD drop\nip daddr $GONE drop\n}\n}\n"

	require.NoError(t, os.WriteFile(list, []byte("192.0.2.1\n  # a comment\n\n    192.0.2.300   # the bad one\n2001:db8::1\n"), 0o644))
	_, ds := lang.Load(filepath.Join(dir, "p.ks"), []byte(policy), lang.Config{})
	assert.Equal(t, []string{
		list + `:4:5: malformed address "192.0.2.300" | ksc takes addresses, not host names: nothing may be resolved outside the tunnel`,
		list + `:5:1: ip saddr needs IPv4 addresses, found an address (2001:db8::1) | use ip6 saddr / ip6 daddr for IPv6 addresses`,
		filepath.Join(dir, "p.ks") + `:2:15: cannot read the set: open ` + filepath.Join(dir, "missing.txt") + `: no such file or directory`,
	}, render(ds))

	require.NoError(t, os.WriteFile(list, []byte("192.0.2.0/25\n192.0.2.128/25\n"), 0o644))
	policy = "define OK = file(\"list.txt\")\ntable t {\nchain c hook input {\nip saddr $OK drop\nip saddr { $OK } drop\n}\n}\n"
	p, ds := lang.Load(filepath.Join(dir, "p.ks"), []byte(policy), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	rules := p.Tables[0].Chains[0].Rules
	// Exactly $NAME keeps the file as a named set; inside braces it is an
	// ordinary (anonymous) set.
	assert.Equal(t, "OK", rules[0].Matches[0].SetName)
	assert.Equal(t, "", rules[1].Matches[0].SetName)
}
