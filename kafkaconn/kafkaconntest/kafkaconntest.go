// Package kafkaconntest gives tests a Kafka cluster that requires TLS and
// SASL: the embedded kfake broker with a certificate signed by a throwaway
// CA, written with the client's files to the test's temporary directory.
//
//	sc := kafkaconntest.Start(t) // skips against RIALTO_KAFKA_BROKERS
//	cfg := server.Config{Brokers: sc.Brokers(), Kafka: sc.Config(), …}
//
// The embedded broker's admin client (kafkatest.Env.Topic) speaks
// plaintext and cannot reach it; create topics with Cluster.Topic.
package kafkaconntest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/kafkaconn"
)

// The SCRAM-SHA-512 user every Cluster knows.
const (
	User     = "rialto"
	Password = "correct horse battery staple"
)

// Files are a throwaway CA's certificates and keys, written as PEM files.
type Files struct {
	CAFile       string // the CA that signed the broker's and the client's certificates
	CertFile     string // a client certificate signed by the CA
	KeyFile      string // its key
	PasswordFile string // Password and a newline
	OtherCAFile  string // a CA that signed nothing the broker presents
	// ServerTLS is the broker's side: a certificate for 127.0.0.1 and
	// localhost signed by the CA.
	ServerTLS *tls.Config
	// ClientCAs holds the CA, for a broker that verifies clients.
	ClientCAs *x509.CertPool
}

// NewFiles makes a CA and the certificates it signs and writes them to
// dir; no broker is started.
func NewFiles(t testing.TB, dir string) *Files {
	t.Helper()
	f := &Files{}
	ca, caKey := newCA(t, "rialto-test-ca")
	other, _ := newCA(t, "rialto-other-ca")
	serverCert, serverKey := issue(t, ca, caKey, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := issue(t, ca, caKey, "rialto-client", x509.ExtKeyUsageClientAuth)
	f.CAFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw)
	f.OtherCAFile = writePEM(t, dir, "other-ca.pem", "CERTIFICATE", other.Raw)
	f.CertFile = writePEM(t, dir, "client.pem", "CERTIFICATE", clientCert.Raw)
	f.KeyFile = writePEM(t, dir, "client-key.pem", "PRIVATE KEY", marshalKey(t, clientKey))
	f.PasswordFile = filepath.Join(dir, "password")
	if err := os.WriteFile(f.PasswordFile, []byte(Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.ClientCAs = x509.NewCertPool()
	f.ClientCAs.AddCert(ca)
	f.ServerTLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverCert.Raw}, PrivateKey: serverKey, Leaf: serverCert}},
		MinVersion:   tls.VersionTLS12,
	}
	return f
}

// Config is the kafkaconn.Config that gets into a Cluster using these
// files: TLS trusting CAFile, the client certificate, SCRAM-SHA-512 as
// User with PasswordFile.
func (f *Files) Config() kafkaconn.Config {
	return kafkaconn.Config{
		TLS:  &kafkaconn.TLS{CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile},
		SASL: &kafkaconn.SASL{Mechanism: kafkaconn.MechanismScramSHA512, User: User, PasswordFile: f.PasswordFile},
	}
}

// Cluster is an embedded broker that speaks only TLS and requires
// SCRAM-SHA-512 authentication.
type Cluster struct {
	*Files
	Env *kafkatest.Env
}

// Options adjust Start.
type Options struct {
	// Dir is where the files go (default a new t.TempDir()).
	Dir string
	// RequireClientCert makes the broker demand a client certificate
	// signed by the CA (mutual TLS).
	RequireClientCert bool
	// Extra are more broker options (more SASL users, a logger, …).
	Extra []embedkafka.Opt
}

// Start starts the broker for t and writes the files. It skips t when
// RIALTO_KAFKA_BROKERS names a real cluster: the options that make the
// broker secure only apply to the embedded one.
func Start(t testing.TB) *Cluster {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) *Cluster {
	t.Helper()
	if len(kafkatest.RealBrokers()) > 0 {
		t.Skipf("kafkaconntest: needs the embedded broker with TLS and SASL, but %s points at a real cluster", kafkatest.BrokersEnv)
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	c := &Cluster{Files: NewFiles(t, o.Dir)}
	if o.RequireClientCert {
		c.ServerTLS.ClientAuth, c.ServerTLS.ClientCAs = tls.RequireAndVerifyClientCert, c.ClientCAs
	}
	opts := append([]embedkafka.Opt{
		embedkafka.TLS(c.ServerTLS),
		embedkafka.SASLUser(embedkafka.MechanismScramSHA512, User, Password),
	}, o.Extra...)
	c.Env = kafkatest.New(t, opts...)
	c.Env.RequireEmbedded(t)
	return c
}

// Brokers are the broker addresses (TLS listeners).
func (c *Cluster) Brokers() []string { return c.Env.Brokers() }

// Client returns a client that gets in (Config's options, then extra),
// closed when t ends.
func (c *Cluster) Client(t testing.TB, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts, err := c.Config().Opts()
	if err != nil {
		t.Fatal(err)
	}
	return c.Env.Client(t, append(opts, extra...)...)
}

// Topic creates a topic through a secure client.
func (c *Cluster) Topic(t testing.TB, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(c.Client(t)).CreateTopic(ctx, partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("kafkaconntest: creating topic %s: %v", name, err)
	}
}

func newCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return create(t, tmpl, tmpl, &key.PublicKey, key), key
}

// issue signs a leaf certificate; a name that is an IP address goes in the
// IP SANs (brokers are dialled at 127.0.0.1), any other in the DNS SANs.
func issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
		tmpl.DNSNames = []string{"localhost"}
	} else {
		tmpl.DNSNames = []string{name}
	}
	return create(t, tmpl, ca, &key.PublicKey, caKey), key
}

func create(t testing.TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func marshalKey(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
