package main

import (
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ksc-project/ksc/internal/netlab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// limitPolicy accepts a burst of 3 datagrams, then 1 a minute.
const limitPolicy = `flush ruleset
table inet t {
	chain c hook input policy drop {
		udp dport 9 limit rate 1/minute burst 3 packets accept
	}
}
`

// A rate limit passes its burst and no more, on every loader: the same
// token bucket in nft (text and netlink) and in iptables' limit match.
func TestLimitPassesTheBurstOnEveryLoader(t *testing.T) {
	netlab.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	useRunDir(t)
	dir := t.TempDir()
	policy := filepath.Join(dir, "limit.ks")
	require.NoError(t, os.WriteFile(policy, []byte(limitPolicy), 0o644))
	for _, tc := range []struct {
		name string
		load func(fw *netlab.NS)
	}{
		{"nft -f", func(fw *netlab.NS) {
			code, text, stderr := ksc("compile", policy, "-t", "nft")
			require.Equal(t, 0, code, stderr)
			out, err := fw.ExecInput(text, "nft", "-f", "-")
			require.NoError(t, err, out)
		}},
		{"netlink", func(fw *netlab.NS) { require.Equal(t, 0, first(ksc("apply", policy, "--netns", fw.Name))) }},
		{"iptables-nft", func(fw *netlab.NS) {
			require.Equal(t, 0, first(ksc("apply", policy, "--netns", fw.Name, "--backend", "iptables", "--iptables-mode", "nft")))
		}},
		{"iptables-legacy", func(fw *netlab.NS) {
			require.Equal(t, 0, first(ksc("apply", policy, "--netns", fw.Name, "--backend", "iptables", "--iptables-mode", "legacy")))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fw, peer := netlab.NewNS(t, "limit"), netlab.NewNS(t, "peer")
			netlab.Veth(t, fw, "eth0", peer, "eth0")
			fw.Exec(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
			peer.Exec(t, "ip", "addr", "add", "192.0.2.9/24", "dev", "eth0")
			tc.load(fw)
			var arrived atomic.Int64
			var listener *net.UDPConn
			require.NoError(t, fw.Do(func() (err error) {
				listener, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("192.0.2.1"), Port: 9})
				return err
			}))
			defer listener.Close()
			go func() {
				buf := make([]byte, 16)
				for {
					if _, _, err := listener.ReadFromUDP(buf); err != nil {
						return
					}
					arrived.Add(1)
				}
			}()
			require.NoError(t, peer.Do(func() error {
				conn, err := net.Dial("udp", "192.0.2.1:9")
				if err != nil {
					return err
				}
				defer conn.Close()
				for range 8 {
					if _, err := conn.Write([]byte("x")); err != nil {
						return err
					}
				}
				return nil
			}))
			time.Sleep(200 * time.Millisecond)
			assert.Equal(t, int64(3), arrived.Load(), "the burst passes, the rest is over the rate")
		})
	}
}
