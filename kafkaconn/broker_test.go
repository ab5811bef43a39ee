package kafkaconn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/kafkaconn"
	"github.com/rialtodb/rialto/kafkaconn/kafkaconntest"
)

// checkBound is how long a refusal may take: it must come back at once,
// not after a client's retries.
const checkBound = 3 * time.Second

// TestMechanismsOverTLS produces and consumes through the options Opts
// returns, with each mechanism, over TLS verified against the test CA.
func TestMechanismsOverTLS(t *testing.T) {
	sc := kafkaconntest.StartWith(t, kafkaconntest.Options{Extra: []embedkafka.Opt{
		embedkafka.SASLUser(embedkafka.MechanismPlain, "plain-user", "plain-pass"),
		embedkafka.SASLUser(embedkafka.MechanismScramSHA256, "sha256-user", "sha256-pass"),
	}})
	sc.Topic(t, "secure", 1, nil)
	for _, tc := range []struct{ mech, user, pass string }{
		{kafkaconn.MechanismPlain, "plain-user", "plain-pass"},
		{kafkaconn.MechanismScramSHA256, "sha256-user", "sha256-pass"},
		{kafkaconn.MechanismScramSHA512, kafkaconntest.User, kafkaconntest.Password},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			c := kafkaconn.Config{
				TLS:  &kafkaconn.TLS{CAFile: sc.CAFile},
				SASL: &kafkaconn.SASL{Mechanism: tc.mech, User: tc.user, Password: kafkaconn.Secret(tc.pass)},
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.Check(ctx, sc.Brokers()); err != nil {
				t.Fatal(err)
			}
			opts, err := c.Opts()
			if err != nil {
				t.Fatal(err)
			}
			cl := sc.Env.Client(t, append(opts, kgo.ConsumeTopics("secure"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "secure", Value: []byte(tc.mech)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			seen := false
			for !seen {
				fs := cl.PollFetches(ctx)
				if err := fs.Err0(); err != nil {
					t.Fatal(err)
				}
				fs.EachRecord(func(r *kgo.Record) { seen = seen || string(r.Value) == tc.mech })
			}
		})
	}
}

func TestMutualTLS(t *testing.T) {
	sc := kafkaconntest.StartWith(t, kafkaconntest.Options{RequireClientCert: true})
	if err := sc.Config().Check(context.Background(), sc.Brokers()); err != nil {
		t.Fatalf("with the client certificate: %v", err)
	}
	c := sc.Config()
	c.TLS.CertFile, c.TLS.KeyFile = "", ""
	err := c.Check(context.Background(), sc.Brokers())
	if !errors.Is(err, kafkaconn.ErrTLS) || !strings.Contains(err.Error(), "client certificate") {
		t.Fatalf("without the client certificate: %v, want ErrTLS naming the client certificate", err)
	}
}

// TestCheckRefusals: every way the settings can disagree with the broker
// gives a refusal at once, saying which setting to look at and never the
// password.
func TestCheckRefusals(t *testing.T) {
	sc := kafkaconntest.Start(t)
	with := func(f func(*kafkaconn.Config)) kafkaconn.Config {
		c := sc.Config()
		f(&c)
		return c
	}
	const wrong = "not-the-password"
	tests := []struct {
		name     string
		c        kafkaconn.Config
		sentinel error
		want     string
	}{
		{"wrong password", with(func(c *kafkaconn.Config) { c.SASL.PasswordFile, c.SASL.Password = "", wrong }),
			kafkaconn.ErrAuthentication, `SASL SCRAM-SHA-512 as user "rialto" (wrong user or password`},
		{"unknown user", with(func(c *kafkaconn.Config) { c.SASL.User = "mallory" }),
			kafkaconn.ErrAuthentication, `as user "mallory"`},
		{"mechanism the user lacks", with(func(c *kafkaconn.Config) { c.SASL.Mechanism = kafkaconn.MechanismScramSHA256 }),
			kafkaconn.ErrAuthentication, "the mechanism is not enabled for the user"},
		{"no sasl", with(func(c *kafkaconn.Config) { c.SASL = nil }),
			kafkaconn.ErrAuthentication, "it probably requires SASL, which the configuration does not set"},
		{"plaintext", with(func(c *kafkaconn.Config) { c.TLS = nil }),
			kafkaconn.ErrTLS, "it probably requires TLS, which the configuration does not turn on"},
		{"zero config", kafkaconn.Config{},
			kafkaconn.ErrTLS, "it probably requires TLS"},
		{"untrusted CA", with(func(c *kafkaconn.Config) { c.TLS.CAFile = sc.OtherCAFile }),
			kafkaconn.ErrTLS, "the broker's certificate is not trusted (check the CA file and the server name)"},
		{"system roots", with(func(c *kafkaconn.Config) { c.TLS.CAFile = "" }),
			kafkaconn.ErrTLS, "certificate signed by unknown authority"},
		{"server name", with(func(c *kafkaconn.Config) { c.TLS.ServerName = "kafka.example" }),
			kafkaconn.ErrTLS, "not kafka.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.c.Check(context.Background(), sc.Brokers())
			took := time.Since(start)
			if !errors.Is(err, tc.sentinel) || !kafkaconn.Refused(err) {
				t.Fatalf("Check = %v, want %v", err, tc.sentinel)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not say %q: %v", tc.want, err)
			}
			if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), kafkaconntest.Password) {
				t.Errorf("error shows a password: %v", err)
			}
			if took > checkBound {
				t.Errorf("refusal took %v, want under %v", took, checkBound)
			}
		})
	}
	// insecureSkipVerify gets past a certificate nobody vouches for.
	if err := with(func(c *kafkaconn.Config) { c.TLS.CAFile, c.TLS.InsecureSkipVerify = "", true }).Check(context.Background(), sc.Brokers()); err != nil {
		t.Fatalf("insecureSkipVerify: %v", err)
	}
}

func TestCheckTLSAgainstPlaintextBroker(t *testing.T) {
	env := kafkatest.New(t)
	env.RequireEmbedded(t)
	c := kafkaconn.Config{TLS: &kafkaconn.TLS{InsecureSkipVerify: true}}
	start := time.Now()
	err := c.Check(context.Background(), env.Brokers())
	// A plaintext listener never answers the ClientHello: Check waits
	// for its handshake timeout (3s), not for the client's retries.
	if !errors.Is(err, kafkaconn.ErrTLS) || !strings.Contains(err.Error(), "did not answer the TLS handshake") || time.Since(start) > 2*checkBound {
		t.Fatalf("TLS against a plaintext listener: %v after %v, want ErrTLS within %v", err, time.Since(start), 2*checkBound)
	}
	if err := (kafkaconn.Config{}).Check(context.Background(), env.Brokers()); err != nil {
		t.Fatalf("plaintext against plaintext: %v", err)
	}
}

func TestCheckUnreachableIsNotARefusal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := (kafkaconn.Config{}).Check(ctx, []string{"127.0.0.1:1"})
	if err == nil || kafkaconn.Refused(err) {
		t.Fatalf("unreachable broker: %v, want an error that is not a refusal", err)
	}
}
