package sysctl_test

import (
	"net"
	"testing"

	"github.com/ksc-project/ksc/backends/sysctl"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Applying the sysctl target inside a namespace disables IPv6 there (the
// keys read back as 1 and no IPv6 socket can be bound), and --undo brings it
// back. The test's own namespace is never touched.
func TestApplyDisablesIPv6InNamespace(t *testing.T) {
	labtest.Require(t)
	ns := labtest.NewNS(t, "sysctl")
	path := nsenter.Path(ns.Name)
	p := &ir.Policy{Source: "t.ks", IPv6: ir.IPv6Plan{Sysctl: &ir.SysctlPlan{}}}

	bindIPv6 := func() error {
		return ns.Do(func() error {
			l, err := net.Listen("tcp6", "[::1]:0")
			if err == nil {
				l.Close()
			}
			return err
		})
	}
	require.NoError(t, bindIPv6(), "IPv6 must work in a new namespace")

	require.NoError(t, sysctl.Apply(p, false, path))
	values, err := sysctl.Read(p, path)
	require.NoError(t, err)
	for key, v := range values {
		assert.Equal(t, "1", v, key)
	}
	assert.Error(t, bindIPv6(), "IPv6 still usable after disabling it")

	require.NoError(t, sysctl.Apply(p, true, path))
	values, err = sysctl.Read(p, path)
	require.NoError(t, err)
	for key, v := range values {
		assert.Equal(t, "0", v, key)
	}
	assert.NoError(t, bindIPv6(), "IPv6 not usable again after --undo")
}
