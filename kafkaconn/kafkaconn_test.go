package kafkaconn_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rialtodb/rialto/kafkaconn"
)

const secret = "hunter2-do-not-print"

func TestZeroConfigIsPlaintext(t *testing.T) {
	var c kafkaconn.Config
	opts, err := c.Opts()
	if err != nil || len(opts) != 0 {
		t.Fatalf("zero Config: %d options, %v; want none", len(opts), err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.String() != "plaintext" {
		t.Fatalf("String() = %q", c.String())
	}
}

func TestDecodeJSON(t *testing.T) {
	dir := t.TempDir()
	pw := write(t, dir, "pw", secret+"\n")
	var c kafkaconn.Config
	dec := json.NewDecoder(strings.NewReader(`{"tls": {}, "sasl": {"mechanism": "scram-sha-256", "user": "u", "passwordFile": "` + pw + `"}}`))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	opts, err := c.Opts()
	if err != nil {
		t.Fatal(err)
	}
	if len(opts) != 2 {
		t.Fatalf("an empty tls object and a sasl object gave %d options, want 2 (TLS with the system roots, SASL)", len(opts))
	}
	if err := json.Unmarshal([]byte(`{"sasl": {"password": "x"}}`), &c); err != nil || c.SASL.Password != "x" {
		t.Fatalf("password not decoded: %v %+v", err, c.SASL)
	}
	dec = json.NewDecoder(strings.NewReader(`{"tls": {"cafile": "x", "caFiles": "y"}}`))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err == nil {
		t.Fatal("a misspelt key was accepted")
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	notPEM := write(t, dir, "garbage.pem", "not a certificate")
	emptyPW := write(t, dir, "empty", "\n")
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		c    kafkaconn.Config
		want []string // each names a field and the problem
	}{
		{"sasl without anything", kafkaconn.Config{SASL: &kafkaconn.SASL{}},
			[]string{"sasl.mechanism: required: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", "sasl.user: required", "sasl.password: required (or a password file)"}},
		{"unknown mechanism", kafkaconn.Config{SASL: &kafkaconn.SASL{Mechanism: "GSSAPI", User: "u", Password: secret}},
			[]string{`sasl.mechanism: unknown mechanism "GSSAPI" (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)`}},
		{"password twice", kafkaconn.Config{SASL: &kafkaconn.SASL{Mechanism: "PLAIN", User: "u", Password: secret, PasswordFile: emptyPW}},
			[]string{"sasl.password: give the password or a password file, not both"}},
		{"password files", kafkaconn.Config{SASL: &kafkaconn.SASL{Mechanism: "PLAIN", User: "u", PasswordFile: missing}},
			[]string{"sasl.passwordFile: " + missing + ": no such file or directory"}},
		{"empty password file", kafkaconn.Config{SASL: &kafkaconn.SASL{Mechanism: "PLAIN", User: "u", PasswordFile: emptyPW}},
			[]string{"sasl.passwordFile: " + emptyPW + " is empty"}},
		{"cert without key", kafkaconn.Config{TLS: &kafkaconn.TLS{CertFile: notPEM}},
			[]string{"tls.keyFile: required with a client certificate"}},
		{"key without cert", kafkaconn.Config{TLS: &kafkaconn.TLS{KeyFile: notPEM}},
			[]string{"tls.certFile: required with a client key"}},
		{"unreadable and bad files", kafkaconn.Config{TLS: &kafkaconn.TLS{CAFile: missing, CertFile: notPEM, KeyFile: missing}},
			[]string{"tls.caFile: " + missing + ": no such file or directory", "tls.keyFile: " + missing + ": no such file or directory"}},
		{"not PEM", kafkaconn.Config{TLS: &kafkaconn.TLS{CAFile: notPEM, CertFile: notPEM, KeyFile: notPEM}},
			[]string{"tls.caFile: " + notPEM + " holds no PEM certificate", "tls.certFile: " + notPEM + " with the key in " + notPEM + ": tls: failed to find any PEM data"}},
		{"all at once", kafkaconn.Config{TLS: &kafkaconn.TLS{CertFile: notPEM}, SASL: &kafkaconn.SASL{Mechanism: "SCRAM", Password: secret}},
			[]string{"tls.keyFile", "sasl.mechanism", "sasl.user"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if err == nil {
				t.Fatal("invalid config accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the password: %v", err)
			}
			var fe *kafkaconn.FieldError
			if !errors.As(err, &fe) {
				t.Errorf("no *FieldError in %v", err)
			}
			if n := len(kafkaconn.Problems(err, func(f string) string { return f })); n != len(strings.Split(err.Error(), "\n")) {
				t.Errorf("Problems lists %d, the error has %d lines", n, len(strings.Split(err.Error(), "\n")))
			}
			if _, oerr := tc.c.Opts(); oerr == nil || oerr.Error() != err.Error() {
				t.Errorf("Opts error %v differs from Validate's %v", oerr, err)
			}
		})
	}
}

func TestProblemsRenamesFields(t *testing.T) {
	c := kafkaconn.Config{SASL: &kafkaconn.SASL{Mechanism: "PLAIN"}, TLS: &kafkaconn.TLS{KeyFile: "k"}}
	ps := kafkaconn.Problems(c.Validate(), func(f string) string { return "kafka." + f })
	var got []string
	for _, p := range ps {
		got = append(got, p.Error())
	}
	want := []string{"kafka.tls.certFile: required with a client key (the certificate it belongs to)", "kafka.sasl.user: required", "kafka.sasl.password: required (or a password file)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if kafkaconn.Problems(nil, nil) != nil {
		t.Fatal("Problems(nil) is not nil")
	}
	other := errors.New("boom")
	if ps := kafkaconn.Problems(other, nil); len(ps) != 1 || ps[0] != other {
		t.Fatalf("Problems(plain error) = %v", ps)
	}
}

// TestPasswordNeverPrinted formats a Config every way a program might log
// or print it, alone and inside an enclosing configuration.
func TestPasswordNeverPrinted(t *testing.T) {
	c := kafkaconn.Config{
		TLS:  &kafkaconn.TLS{CAFile: "/etc/ca.pem"},
		SASL: &kafkaconn.SASL{Mechanism: "SCRAM-SHA-512", User: "rialto", Password: secret},
	}
	outer := struct {
		Brokers []string
		Kafka   kafkaconn.Config `json:"kafka"`
	}{[]string{"k:9093"}, c}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		outs = append(outs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, outer), fmt.Sprintf(verb, c.SASL), fmt.Sprintf(verb, *c.SASL), fmt.Sprintf(verb, &outer))
	}
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b bytes.Buffer
		slog.New(h(&b)).Info("config", "kafka", c, "outer", outer, "sasl", c.SASL, "password", c.SASL.Password)
		outs = append(outs, b.String())
	}
	js, err := json.Marshal(outer)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(js))
	for _, out := range outs {
		if strings.Contains(out, secret) {
			t.Errorf("the password is printed: %s", out)
		}
	}
	if s := c.String(); s != "tls(caFile=/etc/ca.pem) sasl(SCRAM-SHA-512 user=rialto password=<redacted>)" {
		t.Errorf("String() = %q", s)
	}
	if !strings.Contains(string(js), `"password":"\u003credacted\u003e"`) {
		t.Errorf("JSON does not show the password as redacted: %s", js)
	}
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
