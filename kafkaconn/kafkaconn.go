package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanisms.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// Config secures the connections to one Kafka cluster. The zero value is
// plaintext without authentication.
type Config struct {
	// TLS, when present (even as an empty object), makes every connection
	// TLS. Absent: plaintext.
	TLS *TLS `json:"tls,omitempty"`
	// SASL, when present, authenticates every connection. Absent: no
	// authentication.
	SASL *SASL `json:"sasl,omitempty"`
}

// TLS configures TLS to the brokers.
type TLS struct {
	// CAFile is a PEM file of the certificates that sign the brokers'
	// certificates. Empty: the system roots.
	CAFile string `json:"caFile"`
	// CertFile is a PEM client certificate (mutual TLS); requires KeyFile.
	CertFile string `json:"certFile"`
	// KeyFile is the PEM private key of CertFile; requires CertFile.
	KeyFile string `json:"keyFile"`
	// ServerName is the name the brokers' certificates are verified
	// against. Empty: the host of each broker address.
	ServerName string `json:"serverName"`
	// InsecureSkipVerify accepts any broker certificate. For tests only:
	// it makes TLS useless against an active attacker.
	InsecureSkipVerify bool `json:"insecureSkipVerify"`
}

// SASL configures SASL authentication.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (any case).
	Mechanism string `json:"mechanism"`
	// User is the SASL user name.
	User string `json:"user"`
	// Password is the user's password; exactly one of Password and
	// PasswordFile is required. Prefer PasswordFile: a file can have
	// tighter permissions than the configuration.
	Password Secret `json:"password"`
	// PasswordFile is a file holding the password (a trailing newline is
	// dropped).
	PasswordFile string `json:"passwordFile"`
}

// Secret is a string that never prints: String, GoString, LogValue and
// MarshalJSON give "<redacted>" (or "" when it is empty). Decoding JSON
// keeps the value.
type Secret string

const redacted = "<redacted>"

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// LogValue redacts in slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON redacts: a configuration written back out does not carry
// the password.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// FieldError is one problem of a Config, naming the field by its JSON path
// ("tls.certFile", "sasl.mechanism").
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Problems lists the problems in an error Validate or Opts returned, each
// field renamed by rename (a prefix for an enclosing configuration, or the
// key names of another format); nil gives nil. An error that is not a
// Validate error is returned as the one problem.
func Problems(err error, rename func(field string) string) []error {
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		var fe *FieldError
		if errors.As(e, &fe) {
			e = &FieldError{Field: rename(fe.Field), Err: fe.Err}
		}
		out = append(out, e)
	}
	return out
}

// Validate reports every problem at once: nil, or errors.Join of one
// *FieldError per problem. It reads the files the Config names.
func (c Config) Validate() error {
	_, err := c.Opts()
	return err
}

// Opts returns the franz-go options for c: kgo.DialTLSConfig with TLS,
// kgo.SASL with SASL, nothing for the zero Config. It reads the files the
// Config names and fails exactly when Validate does.
func (c Config) Opts() ([]kgo.Opt, error) {
	tc, mech, err := c.build()
	if err != nil {
		return nil, err
	}
	var opts []kgo.Opt
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

// build reads the files and returns the TLS config (nil: plaintext) and
// the SASL mechanism (nil: none), or every problem.
func (c Config) build() (*tls.Config, sasl.Mechanism, error) {
	var errs []error
	bad := func(field string, err error) { errs = append(errs, &FieldError{Field: field, Err: err}) }
	var tc *tls.Config
	var mech sasl.Mechanism
	if c.TLS != nil {
		tc = c.TLS.config(bad)
	}
	if c.SASL != nil {
		mech = c.SASL.mechanism(bad)
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return tc, mech, nil
}

// config builds the tls.Config, reporting problems through bad; nil when
// there were any.
func (t *TLS) config(bad func(string, error)) *tls.Config {
	n := 0
	report := func(field string, err error) { n++; bad(field, err) }
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		if pem, err := os.ReadFile(t.CAFile); err != nil {
			report("tls.caFile", fileErr(err))
		} else {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				report("tls.caFile", fmt.Errorf("%s holds no PEM certificate", t.CAFile))
			}
			tc.RootCAs = pool
		}
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		report("tls.keyFile", errors.New("required with a client certificate (its private key)"))
	case t.CertFile == "" && t.KeyFile != "":
		report("tls.certFile", errors.New("required with a client key (the certificate it belongs to)"))
	case t.CertFile != "":
		certPEM, err := os.ReadFile(t.CertFile)
		if err != nil {
			report("tls.certFile", fileErr(err))
		}
		keyPEM, kerr := os.ReadFile(t.KeyFile)
		if kerr != nil {
			report("tls.keyFile", fileErr(kerr))
		}
		if err == nil && kerr == nil {
			cert, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				report("tls.certFile", fmt.Errorf("%s with the key in %s: %w", t.CertFile, t.KeyFile, err))
			} else {
				tc.Certificates = []tls.Certificate{cert}
			}
		}
	}
	if n > 0 {
		return nil
	}
	return tc
}

// mechanism builds the SASL mechanism, reporting problems through bad; nil
// when there were any.
func (s *SASL) mechanism(bad func(string, error)) sasl.Mechanism {
	n := 0
	report := func(field string, err error) { n++; bad(field, err) }
	mech := strings.ToUpper(strings.TrimSpace(s.Mechanism))
	switch mech {
	case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
	case "":
		report("sasl.mechanism", fmt.Errorf("required: %s, %s or %s", MechanismPlain, MechanismScramSHA256, MechanismScramSHA512))
	default:
		report("sasl.mechanism", fmt.Errorf("unknown mechanism %q (want %s, %s or %s)", s.Mechanism, MechanismPlain, MechanismScramSHA256, MechanismScramSHA512))
	}
	if s.User == "" {
		report("sasl.user", errors.New("required"))
	}
	pass := string(s.Password)
	switch {
	case s.Password != "" && s.PasswordFile != "":
		report("sasl.password", errors.New("give the password or a password file, not both"))
	case s.PasswordFile != "":
		b, err := os.ReadFile(s.PasswordFile)
		switch {
		case err != nil:
			report("sasl.passwordFile", fileErr(err))
		default:
			pass = strings.TrimRight(string(b), "\r\n")
			if pass == "" {
				report("sasl.passwordFile", fmt.Errorf("%s is empty", s.PasswordFile))
			}
		}
	case s.Password == "":
		report("sasl.password", errors.New("required (or a password file)"))
	}
	if n > 0 {
		return nil
	}
	switch mech {
	case MechanismPlain:
		return plain.Auth{User: s.User, Pass: pass}.AsMechanism()
	case MechanismScramSHA256:
		return scram.Auth{User: s.User, Pass: pass}.AsSha256Mechanism()
	default:
		return scram.Auth{User: s.User, Pass: pass}.AsSha512Mechanism()
	}
}

// fileErr drops the os.PathError's operation ("open"), keeping the path
// and the reason: "/etc/ca.pem: no such file or directory".
func fileErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// String describes c without the password, e.g.
// "tls(caFile=/etc/ca.pem) sasl(SCRAM-SHA-512 user=rialto password=<redacted>)";
// "plaintext" for the zero Config.
func (c Config) String() string {
	var parts []string
	if c.TLS != nil {
		parts = append(parts, c.TLS.String())
	}
	if c.SASL != nil {
		parts = append(parts, c.SASL.String())
	}
	if len(parts) == 0 {
		return "plaintext"
	}
	return strings.Join(parts, " ")
}

// GoString is String, so %#v does not print the password either.
func (c Config) GoString() string { return "kafkaconn.Config{" + c.String() + "}" }

func (t TLS) String() string {
	var f []string
	add := func(k, v string) {
		if v != "" {
			f = append(f, k+"="+v)
		}
	}
	add("caFile", t.CAFile)
	add("certFile", t.CertFile)
	add("keyFile", t.KeyFile)
	add("serverName", t.ServerName)
	if t.InsecureSkipVerify {
		f = append(f, "insecureSkipVerify")
	}
	return "tls(" + strings.Join(f, " ") + ")"
}

func (s SASL) String() string {
	f := []string{s.Mechanism, "user=" + s.User}
	if s.Password != "" {
		f = append(f, "password="+s.Password.String())
	}
	if s.PasswordFile != "" {
		f = append(f, "passwordFile="+s.PasswordFile)
	}
	return "sasl(" + strings.Join(f, " ") + ")"
}

// LogValue logs c as a group without the password.
func (c Config) LogValue() slog.Value {
	var attrs []slog.Attr
	if t := c.TLS; t != nil {
		attrs = append(attrs, slog.Group("tls", "caFile", t.CAFile, "certFile", t.CertFile, "keyFile", t.KeyFile,
			"serverName", t.ServerName, "insecureSkipVerify", t.InsecureSkipVerify))
	}
	if s := c.SASL; s != nil {
		attrs = append(attrs, slog.Group("sasl", "mechanism", s.Mechanism, "user", s.User,
			"password", s.Password.String(), "passwordFile", s.PasswordFile))
	}
	if len(attrs) == 0 {
		return slog.StringValue("plaintext")
	}
	return slog.GroupValue(attrs...)
}
