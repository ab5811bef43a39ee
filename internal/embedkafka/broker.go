package embedkafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

var (
	// ErrClosed is returned by Restart after Close.
	ErrClosed = errors.New("embedkafka: broker closed")

	// ErrDataDirInUse is returned by Start when another Broker, in this
	// process or another, has the data directory open.
	ErrDataDirInUse = errors.New("embedkafka: data dir in use by another broker")
)

// Broker is an in-process Kafka-protocol cluster of one or more brokers.
// Its methods are safe for concurrent use.
type Broker struct {
	cfg  config
	lock *os.File // flock on the data dir, nil without one

	mu      sync.Mutex // guards the fields below; held across Restart
	cluster *kfake.Cluster
	addrs   []string
	closed  bool
}

// Start validates opts and starts a cluster. It returns once every listener
// is bound. ctx bounds the start; the Broker then lives until Close.
func Start(ctx context.Context, opts ...Opt) (*Broker, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if len(cfg.ports) > 0 && !cfg.numBrokersSet {
		cfg.numBrokers = len(cfg.ports)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedkafka: start: %w", err)
	}

	b := &Broker{cfg: cfg}
	if cfg.dataDir != "" {
		abs, err := filepath.Abs(cfg.dataDir)
		if err != nil {
			return nil, fmt.Errorf("embedkafka: data dir %s: %w", cfg.dataDir, err)
		}
		b.cfg.dataDir = abs
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("embedkafka: creating data dir: %w", err)
		}
		if b.lock, err = lockDir(abs); err != nil {
			return nil, err
		}
	}

	c, err := kfake.NewCluster(b.cfg.kfakeOpts(b.cfg.ports)...)
	if err != nil {
		b.unlock()
		return nil, fmt.Errorf("embedkafka: start on 127.0.0.1 ports %v: %w", b.cfg.ports, err)
	}
	b.cluster = c
	b.addrs = c.ListenAddrs()
	b.logInfo("embedded kafka started", "addrs", b.addrs, "data_dir", b.cfg.dataDir)
	return b, nil
}

// Addrs returns the brokers' host:port addresses (all on 127.0.0.1), the
// seeds to give a client. They stay the same across Restart.
func (b *Broker) Addrs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.addrs...)
}

// DataDir returns the absolute data directory, or "" if state is kept in
// memory.
func (b *Broker) DataDir() string { return b.cfg.dataDir }

// Cluster returns the running kfake cluster, for fault injection (Fault,
// Control, MoveTopicPartition, ShufflePartitionLeaders, Compact ...). Restart
// replaces it, so fetch it again afterwards. It is nil after Close, and
// after a Restart that failed.
func (b *Broker) Cluster() *kfake.Cluster {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cluster
}

// Restart closes the cluster, which drops every client connection and (with
// a data directory) writes its state to disk, then starts a new one on the
// same addresses and data directory. If a port is briefly taken it retries
// until ctx is done. After a failed Restart, Cluster is nil and Restart may
// be called again.
func (b *Broker) Restart(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	addrs := b.addrs
	if b.cluster != nil {
		addrs = b.cluster.ListenAddrs() // nodes may have been added
		b.cluster.Close()
		b.cluster = nil
	}
	ports, err := portsOf(addrs)
	if err != nil {
		return err
	}

	backoff := 10 * time.Millisecond
	for {
		c, err := kfake.NewCluster(b.cfg.kfakeOpts(ports)...)
		if err == nil {
			b.cluster = c
			b.addrs = c.ListenAddrs()
			b.logInfo("embedded kafka restarted", "addrs", b.addrs, "data_dir", b.cfg.dataDir)
			return nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("embedkafka: restart on %v: %w", addrs, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedkafka: restart on %v: %w (last: %w)", addrs, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// Close stops the cluster and releases the data directory. It is safe to
// call more than once; later calls do nothing.
func (b *Broker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if b.cluster != nil {
		b.cluster.Close()
		b.cluster = nil
	}
	b.unlock()
	b.logInfo("embedded kafka stopped", "addrs", b.addrs)
}

func (b *Broker) unlock() {
	if b.lock != nil {
		b.lock.Close() // closing the descriptor drops the flock
		b.lock = nil
	}
}

func (b *Broker) logInfo(msg string, args ...any) {
	if b.cfg.logger != nil {
		b.cfg.logger.Info(msg, args...)
	}
}

func portsOf(addrs []string) ([]int, error) {
	ports := make([]int, 0, len(addrs))
	for _, a := range addrs {
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("embedkafka: listener address %q: %w", a, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("embedkafka: listener address %q: %w", a, err)
		}
		ports = append(ports, n)
	}
	return ports, nil
}
