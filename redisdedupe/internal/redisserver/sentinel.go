package redisserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name under which the Sentinels of this package monitor their master: the
// MasterName of a go-redis FailoverOptions.
const MasterName = "mymaster"

// DownAfter is how long a master must not answer before a Sentinel of this package holds it
// down and starts a failover (Sentinel's down-after-milliseconds; its default is 30 s).
const DownAfter = time.Second

// StartReplica runs a redis-server that replicates master (--replicaof), waits until its link to
// master is up and stops it on cleanup. It sets master's repl-diskless-sync-delay to 0.
func StartReplica(tb testing.TB, master *Server) *Server {
	tb.Helper()
	host, port, err := net.SplitHostPort(master.Addr)
	if err != nil {
		tb.Fatal(err)
	}
	rdb, err := master.client()
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	// The first sync sends the snapshot without the default 5 s wait for more replicas.
	if err := rdb.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
		tb.Fatal(err)
	}
	s := Start(tb, "--replicaof", host, port)
	if rdb, err = s.client(); err != nil {
		tb.Fatal(err)
	}
	if err := waitFor(10*time.Second, func() error {
		info, err := rdb.InfoMap(ctx, "replication").Result()
		if err == nil && info["Replication"]["master_link_status"] != "up" {
			err = fmt.Errorf("replica %s of %s: link not up", s.Addr, master.Addr)
		}
		return err
	}); err != nil {
		tb.Fatal(err)
	}
	return s
}

// StartSentinel runs a Sentinel (redis-server sentinel.conf --sentinel) that monitors master as
// MasterName with quorum 1, so that it alone decides a failover, DownAfter after master stops
// answering. It waits until the Sentinel names master's address and knows each of replicas
// (started with StartReplica before), and stops it on cleanup. When redis-server is not
// installed the test fails, or is skipped when SkipEnv is 1, as with Start.
func StartSentinel(tb testing.TB, master *Server, replicas ...*Server) *Server {
	tb.Helper()
	requireInstalled(tb)
	s, err := RunSentinel(tb.TempDir(), master.Addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Stop() })
	want := make([]string, len(replicas))
	for i, r := range replicas {
		want[i] = r.Addr
	}
	if err := waitFor(10*time.Second, func() error {
		known, err := s.sentinelReplicas()
		if err != nil {
			return err
		}
		for _, addr := range want {
			if !slices.Contains(known, addr) {
				return fmt.Errorf("sentinel %s knows replicas %v, not %s", s.Addr, known, addr)
			}
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return s
}

// RunSentinel starts a Sentinel on a free loopback port with dir as its working directory (it
// writes dir/sentinel.conf, which the Sentinel rewrites as it learns) and waits until it names
// masterAddr as the address of MasterName. Stop it with Stop.
func RunSentinel(dir, masterAddr string) (*Server, error) {
	host, port, err := net.SplitHostPort(masterAddr)
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir) // Sentinel needs the absolute path of its writable config file
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "sentinel.conf")
	text := strings.Join([]string{
		"sentinel monitor " + MasterName + " " + host + " " + port + " 1",
		"sentinel down-after-milliseconds " + MasterName + " " + strconv.FormatInt(DownAfter.Milliseconds(), 10),
		"sentinel failover-timeout " + MasterName + " 10000",
		"sentinel parallel-syncs " + MasterName + " 1",
		"",
	}, "\n")
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	s, err := run(dir, conf, "--sentinel")
	if err != nil {
		return nil, err
	}
	if err := s.WaitMaster(masterAddr, 10*time.Second); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// Master asks the Sentinel s for the address of MasterName's master
// (SENTINEL get-master-addr-by-name).
func (s *Server) Master() (string, error) {
	sc, err := s.sentinelClient()
	if err != nil {
		return "", err
	}
	hostPort, err := sc.GetMasterAddrByName(context.Background(), MasterName).Result()
	if err != nil {
		return "", err
	}
	if len(hostPort) != 2 {
		return "", fmt.Errorf("sentinel %s: get-master-addr-by-name answered %v", s.Addr, hostPort)
	}
	return net.JoinHostPort(hostPort[0], hostPort[1]), nil
}

// WaitMaster waits up to timeout until the Sentinel s names addr as MasterName's master: after a
// failover, the address of the promoted replica.
func (s *Server) WaitMaster(addr string, timeout time.Duration) error {
	return waitFor(timeout, func() error {
		got, err := s.Master()
		if err == nil && got != addr {
			err = fmt.Errorf("sentinel %s names master %s, not %s", s.Addr, got, addr)
		}
		return err
	})
}

// sentinelReplicas returns the addresses of the replicas of MasterName the Sentinel s knows and
// does not hold down or disconnected (SENTINEL replicas).
func (s *Server) sentinelReplicas() ([]string, error) {
	sc, err := s.sentinelClient()
	if err != nil {
		return nil, err
	}
	replicas, err := sc.Replicas(context.Background(), MasterName).Result()
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, r := range replicas {
		flags := strings.Split(r["flags"], ",")
		if slices.Contains(flags, "s_down") || slices.Contains(flags, "disconnected") {
			continue
		}
		addrs = append(addrs, net.JoinHostPort(r["ip"], r["port"]))
	}
	return addrs, nil
}

// sentinelClient returns the Sentinel client of the running Sentinel s.
func (s *Server) sentinelClient() (*redis.SentinelClient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sc == nil {
		return nil, fmt.Errorf("sentinel on %s is not running", s.Addr)
	}
	return s.sc, nil
}
