package soak_test

import (
	"testing"
	"time"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/netlab"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/internal/soak"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/require"
)

const client = `
table inet ks {
	chain output hook output policy drop {
		oifname "lo" accept
		oifname "eth0" ip daddr 198.51.100.1 udp dport 1194 accept
		oifname "tun0" accept
	}
	chain forward hook forward policy drop {
		iifname "eth1" oifname "tun0" accept
	}
}
`

func TestRepro(t *testing.T) {
	netlab.Require(t, "nft")
	l, err := soak.New()
	require.NoError(t, err)
	defer l.Close()
	p, ds := lang.Load("c.ks", []byte(client), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	b, err := nft.Lower(p)
	require.NoError(t, err)
	require.NoError(t, kernel.Apply(b, nsenter.Path(l.FW)))
	f1, err := l.Flood(l.FW, soak.Forbidden4, 0, 50000)
	require.NoError(t, err)
	f2, err := l.Flood(l.LAN, soak.Forbidden4, 0, 50000)
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	before, _ := l.Arrived()
	leaky := 0
	for i := 0; i < 100; i++ {
		a, _ := l.Arrived()
		require.NoError(t, kernel.Apply(b, nsenter.Path(l.FW)))
		time.Sleep(5 * time.Millisecond)
		c, _ := l.Arrived()
		if c["f4"] != a["f4"] {
			leaky++
		}
	}
	after, _ := l.Arrived()
	s1, r1 := f1.Stop()
	s2, r2 := f2.Stop()
	t.Logf("before %v after %v leaky re-applies %d; fw sent %d refused %d; lan sent %d refused %d", before, after, leaky, s1, r1, s2, r2)
}
