package embedkafka_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/rialtodb/rialto/internal/embedkafka"
)

func start(t *testing.T, opts ...embedkafka.Opt) *embedkafka.Broker {
	t.Helper()
	b, err := embedkafka.Start(t.Context(), opts...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

func client(t *testing.T, b *embedkafka.Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(b.Addrs()...),
		kgo.RetryTimeout(20 * time.Second),
		kgo.MetadataMinAge(50 * time.Millisecond), // faults make the client refresh metadata; the default 5s would dominate
	}, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, cl *kgo.Client, topic string, partitions int32) {
	t.Helper()
	resp, err := kadm.NewClient(cl).CreateTopic(t.Context(), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

func produce(t *testing.T, cl *kgo.Client, topic string, from, to int) {
	t.Helper()
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce %d..%d: %v", from, to, err)
	}
}

// consume reads n records of a one-partition topic from offset 0 and checks
// that record i is at offset i with value v<i>.
func consume(t *testing.T, b *embedkafka.Broker, topic string, n int) {
	t.Helper()
	cl := client(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().At(0)},
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != int64(got) || string(r.Value) != fmt.Sprintf("v%d", got) {
				t.Fatalf("record %d: offset %d value %q", got, r.Offset, r.Value)
			}
			got++
		})
	}
}

func TestRoundTrip(t *testing.T) {
	b := start(t)
	addrs := b.Addrs()
	if len(addrs) != 1 || !strings.HasPrefix(addrs[0], "127.0.0.1:") {
		t.Fatalf("Addrs = %v, want one 127.0.0.1 address", addrs)
	}
	if b.DataDir() != "" {
		t.Fatalf("DataDir = %q without DataDir option", b.DataDir())
	}
	cl := client(t, b)
	createTopic(t, cl, "round-trip", 1)
	produce(t, cl, "round-trip", 0, 100)
	consume(t, b, "round-trip", 100)
}

func TestSeveralBrokersFixedPorts(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	b := start(t, embedkafka.Ports(p1, 0, p2), embedkafka.DefaultPartitions(6))
	addrs := b.Addrs()
	if len(addrs) != 3 || addrs[0] != fmt.Sprintf("127.0.0.1:%d", p1) || addrs[2] != fmt.Sprintf("127.0.0.1:%d", p2) {
		t.Fatalf("Addrs = %v, want 127.0.0.1:%d, random, 127.0.0.1:%d", addrs, p1, p2)
	}
	cl := client(t, b)
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(t.Context(), -1, 1, nil, "defaulted")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	if resp.NumPartitions != 6 {
		t.Fatalf("topic created with -1 partitions has %d, want the DefaultPartitions 6", resp.NumPartitions)
	}
	md, err := adm.BrokerMetadata(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 3 {
		t.Fatalf("metadata lists %d brokers, want 3", len(md.Brokers))
	}
}

func TestRestartKeepsDataAndClientsReconnect(t *testing.T) {
	dir := t.TempDir()
	b := start(t, embedkafka.DataDir(dir))
	addrs := b.Addrs()
	cl := client(t, b)
	createTopic(t, cl, "durable", 1)
	produce(t, cl, "durable", 0, 50)
	before := b.Cluster()

	if err := b.Restart(t.Context()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if got := b.Addrs(); fmt.Sprint(got) != fmt.Sprint(addrs) {
		t.Fatalf("Addrs after Restart = %v, want %v", got, addrs)
	}
	if b.Cluster() == before || b.Cluster() == nil {
		t.Fatal("Cluster() not replaced by Restart")
	}
	// The client from before the restart reconnects and appends after the
	// records that survived.
	produce(t, cl, "durable", 50, 60)
	consume(t, b, "durable", 60)

	// A second Broker on the same directory, after this one closes, sees
	// the same records.
	b.Close()
	b2 := start(t, embedkafka.DataDir(dir))
	consume(t, b2, "durable", 60)
}

func TestRestartWithoutDataDirStartsEmpty(t *testing.T) {
	b := start(t)
	cl := client(t, b)
	createTopic(t, cl, "ephemeral", 1)
	if err := b.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	topics, err := kadm.NewClient(cl).ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("ephemeral") {
		t.Fatal("in-memory topic survived Restart")
	}
}

func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	b := start(t, embedkafka.DataDir(dir))
	if _, err := embedkafka.Start(t.Context(), embedkafka.DataDir(dir)); !errors.Is(err, embedkafka.ErrDataDirInUse) {
		t.Fatalf("second Start on %s: %v, want ErrDataDirInUse", dir, err)
	}
	// Restart keeps the lock.
	if err := b.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := embedkafka.Start(t.Context(), embedkafka.DataDir(dir)); !errors.Is(err, embedkafka.ErrDataDirInUse) {
		t.Fatalf("Start during the first's life after Restart: %v, want ErrDataDirInUse", err)
	}
	b.Close()
	start(t, embedkafka.DataDir(dir))
}

func TestCloseTwice(t *testing.T) {
	b, err := embedkafka.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addrs()[0]
	b.Close()
	b.Close()
	if b.Cluster() != nil {
		t.Fatal("Cluster() non-nil after Close")
	}
	if err := b.Restart(t.Context()); !errors.Is(err, embedkafka.ErrClosed) {
		t.Fatalf("Restart after Close: %v, want ErrClosed", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Close", addr)
	}
}

func TestFaultInjection(t *testing.T) {
	b := start(t)
	cl := client(t, b)
	createTopic(t, cl, "faulty", 1)
	h := b.Cluster().Fault(kfake.Fault{
		Keys:  []kmsg.Key{kmsg.Produce},
		Topic: "faulty",
		Err:   kerr.NotLeaderForPartition,
		Count: 2,
	})
	// The client retries through both faults and the record lands once.
	produce(t, cl, "faulty", 0, 1)
	if h.Hits() != 2 {
		t.Fatalf("fault hit %d times, want 2", h.Hits())
	}
	consume(t, b, "faulty", 1)

	if err := b.Cluster().MoveTopicPartition("faulty", 0, 0); err != nil {
		t.Fatal(err)
	}
	b.Cluster().ShufflePartitionLeaders()
}

func TestInvalidOptionsReportedTogether(t *testing.T) {
	_, err := embedkafka.Start(t.Context(),
		embedkafka.NumBrokers(2),
		embedkafka.Ports(1, 2, 3),
		embedkafka.DefaultPartitions(0),
		embedkafka.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "0"}),
		embedkafka.SASLUser("GSSAPI", "u", "p"),
	)
	if !errors.Is(err, embedkafka.ErrInvalidOption) {
		t.Fatalf("err = %v, want ErrInvalidOption", err)
	}
	for _, want := range []string{"3 ports for NumBrokers(2)", "DefaultPartitions(0)", "log.cleaner.backoff.ms", `"GSSAPI"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}

func TestTLSAndSCRAM(t *testing.T) {
	serverTLS, clientTLS := selfSignedTLS(t)
	b := start(t,
		embedkafka.TLS(serverTLS),
		embedkafka.SASLUser(embedkafka.MechanismScramSHA256, "rialto", "s3cret"),
	)
	good := client(t, b,
		kgo.DialTLSConfig(clientTLS),
		kgo.SASL(scram.Auth{User: "rialto", Pass: "s3cret"}.AsSha256Mechanism()),
	)
	createTopic(t, good, "secure", 1)
	produce(t, good, "secure", 0, 3)

	bad := client(t, b,
		kgo.DialTLSConfig(clientTLS),
		kgo.SASL(scram.Auth{User: "rialto", Pass: "wrong"}.AsSha256Mechanism()),
		kgo.RetryTimeout(time.Second),
	)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := bad.Ping(ctx); err == nil {
		t.Fatal("client with a wrong password was let in")
	}

	plain := client(t, b, kgo.SASL(scram.Auth{User: "rialto", Pass: "s3cret"}.AsSha256Mechanism()))
	ctx2, cancel2 := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel2()
	if err := plain.Ping(ctx2); err == nil {
		t.Fatal("plaintext client reached a TLS listener")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// selfSignedTLS returns a server config with a fresh certificate for
// 127.0.0.1 and a client config that trusts only it.
func selfSignedTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "rialto-test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client
}
