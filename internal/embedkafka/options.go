package embedkafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// ErrInvalidOption is wrapped by the error Start returns when the options
// do not make sense together.
var ErrInvalidOption = errors.New("embedkafka: invalid option")

// Opt configures a Broker. Options are applied in order; a later option of
// the same kind replaces an earlier one unless its doc says it accumulates.
type Opt interface {
	apply(*config)
}

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

// SASL mechanisms accepted by SASLUser.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

type saslUser struct {
	mechanism, user, pass string
}

type config struct {
	numBrokers    int
	numBrokersSet bool
	ports         []int
	dataDir       string
	syncWrites    bool
	defaultParts  int
	brokerConfigs map[string]string
	tlsConfig     *tls.Config
	saslUsers     []saslUser
	enableSASL    bool
	clusterID     string
	autoTopics    bool
	logger        *slog.Logger
	extra         []kfake.Opt
}

func defaultConfig() config {
	return config{
		numBrokers:   1,
		defaultParts: 1,
		clusterID:    "rialto-embedded",
	}
}

// NumBrokers sets how many brokers the cluster runs, overriding the default
// of 1. Every broker listens on its own loopback port.
func NumBrokers(n int) Opt {
	return optFunc(func(c *config) { c.numBrokers, c.numBrokersSet = n, true })
}

// Ports fixes the loopback ports the brokers listen on, one per broker,
// overriding the default of a random free port for each. A 0 picks a random
// port for that broker. Without NumBrokers the number of ports is the
// number of brokers.
func Ports(ports ...int) Opt {
	return optFunc(func(c *config) { c.ports = append([]int(nil), ports...) })
}

// DataDir keeps the cluster's state in dir, overriding the default of
// keeping it in memory. The directory is created if missing, loaded if it
// holds a previous run's state, and locked against other Brokers while this
// one is open.
func DataDir(dir string) Opt {
	return optFunc(func(c *config) { c.dataDir = dir })
}

// SyncWrites fsyncs every produced batch before acknowledging it, overriding
// the default of syncing on segment roll and Close. Only meaningful with
// DataDir; it makes produce much slower.
func SyncWrites() Opt {
	return optFunc(func(c *config) { c.syncWrites = true })
}

// DefaultPartitions sets the partition count of topics created with -1
// partitions (and of auto-created topics), overriding the default of 1,
// Kafka's own num.partitions default.
func DefaultPartitions(n int) Opt {
	return optFunc(func(c *config) { c.defaultParts = n })
}

// BrokerConfigs sets broker-level configs, accumulating over several calls;
// an empty value resets a key to kfake's default. See kfake.BrokerConfigs
// for the keys kfake understands. log.cleaner.backoff.ms must be a positive
// number of milliseconds if set.
func BrokerConfigs(configs map[string]string) Opt {
	return optFunc(func(c *config) {
		if c.brokerConfigs == nil {
			c.brokerConfigs = make(map[string]string, len(configs))
		}
		for k, v := range configs {
			c.brokerConfigs[k] = v
		}
	})
}

// TLS makes every listener speak TLS with cfg, overriding the default of
// plaintext. Clients then need kgo.DialTLSConfig with a config that trusts
// cfg's certificate for 127.0.0.1.
func TLS(cfg *tls.Config) Opt {
	return optFunc(func(c *config) { c.tlsConfig = cfg })
}

// SASLUser enables SASL authentication and adds a superuser with the given
// mechanism (MechanismPlain, MechanismScramSHA256 or MechanismScramSHA512);
// it accumulates over several calls. By default SASL is off. With a data
// directory, users persist, and users created through the Kafka API
// (AlterUserSCRAMCredentials) survive a Restart.
func SASLUser(mechanism, user, pass string) Opt {
	return optFunc(func(c *config) {
		c.enableSASL = true
		c.saslUsers = append(c.saslUsers, saslUser{mechanism, user, pass})
	})
}

// ClusterID sets the cluster id reported in metadata, overriding the default
// "rialto-embedded". A data directory keeps the id of the run that created
// it.
func ClusterID(id string) Opt {
	return optFunc(func(c *config) { c.clusterID = id })
}

// AllowAutoTopicCreation lets metadata requests create missing topics,
// overriding the default of refusing (Rialto creates its topics explicitly,
// and a typo should fail loudly).
func AllowAutoTopicCreation() Opt {
	return optFunc(func(c *config) { c.autoTopics = true })
}

// Logger sends kfake's logs to l, overriding the default of discarding
// them. kfake's error, warn, info and debug levels map onto slog's; l's
// handler decides which are kept (kfake logs every failed request at info).
func Logger(l *slog.Logger) Opt {
	return optFunc(func(c *config) { c.logger = l })
}

// KfakeOpts passes options straight to kfake.NewCluster after the ones this
// package derives, accumulating over several calls. It is the escape hatch
// for kfake features without an option here (ACLs, SeedTopics, MaxVersions
// ...). Ports, ListenFn, DataDir and NumBrokers passed this way break the
// guarantees in the package doc; don't.
func KfakeOpts(opts ...kfake.Opt) Opt {
	return optFunc(func(c *config) { c.extra = append(c.extra, opts...) })
}

// validate reports every problem at once.
func (c *config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if c.numBrokers < 1 {
		bad("NumBrokers(%d): need at least 1", c.numBrokers)
	}
	if len(c.ports) > 0 {
		if c.numBrokersSet && len(c.ports) != c.numBrokers {
			bad("Ports: %d ports for NumBrokers(%d)", len(c.ports), c.numBrokers)
		}
		seen := make(map[int]bool, len(c.ports))
		for _, p := range c.ports {
			switch {
			case p < 0 || p > 65535:
				bad("Ports: %d is not a TCP port", p)
			case p != 0 && seen[p]:
				bad("Ports: %d given twice", p)
			}
			seen[p] = true
		}
	}
	if c.defaultParts < 1 {
		bad("DefaultPartitions(%d): need at least 1", c.defaultParts)
	}
	if v, ok := c.brokerConfigs["log.cleaner.backoff.ms"]; ok && v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
			bad("BrokerConfigs: log.cleaner.backoff.ms=%q must be a positive number of milliseconds (kfake panics on 0)", v)
		}
	}
	for _, u := range c.saslUsers {
		switch u.mechanism {
		case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
		default:
			bad("SASLUser: unknown mechanism %q (want %s, %s or %s)", u.mechanism, MechanismPlain, MechanismScramSHA256, MechanismScramSHA512)
		}
		if u.user == "" {
			bad("SASLUser: empty user name")
		}
	}
	if c.clusterID == "" {
		bad("ClusterID: empty")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidOption, errors.Join(errs...))
}

// kfakeOpts builds kfake's options; ports are the listeners to bind (the
// configured ones on Start, the previous ones on Restart).
func (c *config) kfakeOpts(ports []int) []kfake.Opt {
	opts := []kfake.Opt{
		kfake.NumBrokers(c.numBrokers),
		kfake.ClusterID(c.clusterID),
		kfake.DefaultNumPartitions(c.defaultParts),
	}
	if len(ports) > 0 {
		opts = append(opts, kfake.Ports(ports...))
	}
	if c.dataDir != "" {
		opts = append(opts, kfake.DataDir(c.dataDir))
	}
	if c.syncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	if len(c.brokerConfigs) > 0 {
		opts = append(opts, kfake.BrokerConfigs(c.brokerConfigs))
	}
	if c.tlsConfig != nil {
		opts = append(opts, kfake.TLS(c.tlsConfig))
	}
	if c.enableSASL {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range c.saslUsers {
			opts = append(opts, kfake.Superuser(u.mechanism, u.user, u.pass))
		}
	}
	if c.autoTopics {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if c.logger != nil {
		opts = append(opts, kfake.WithLogger(slogAdapter{c.logger}))
	}
	return append(opts, c.extra...)
}
