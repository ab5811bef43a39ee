package writer_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/kafkaconn"
	"github.com/rialtodb/rialto/kafkaconn/kafkaconntest"
	"github.com/rialtodb/rialto/writer"
)

// TestSecurity: against a broker that requires TLS and SCRAM-SHA-512,
// Security's settings get a writer in; settings the broker refuses fail
// New at once with kafkaconn's refusal naming the setting — also when
// Partitions spares New the metadata lookup; bad settings are option
// errors.
func TestSecurity(t *testing.T) {
	sc := kafkaconntest.Start(t)
	const topic = "secure_rt"
	sc.Topic(t, topic, 2, nil)
	ctx := ctxT(t, time.Minute)

	w, err := writer.New(writer.Brokers(sc.Brokers()...), writer.Topic(topic), writer.Schemas(schemas(t)),
		writer.Security(sc.Config()))
	if err != nil {
		t.Fatalf("New with the right settings: %v", err)
	}
	res, err := w.PutBytes(ctx, []byte("k1"), 1, []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cl := sc.Client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {res.Partition: kgo.NewOffset().At(res.Offset)}}))
	if fs := cl.PollFetches(ctx); fs.Err() != nil || fs.NumRecords() == 0 {
		t.Fatalf("reading the write back: %v, %d records", fs.Err(), fs.NumRecords())
	}

	wrongPassword := sc.Config()
	wrongPassword.SASL = &kafkaconn.SASL{Mechanism: kafkaconn.MechanismScramSHA512, User: kafkaconntest.User, Password: "not-the-password"}
	noSASL := sc.Config()
	noSASL.SASL = nil
	otherCA := sc.Config()
	otherCA.TLS.CAFile = sc.OtherCAFile
	for _, tc := range []struct {
		name  string
		sec   kafkaconn.Config
		extra []writer.Opt
		is    error
		want  string
	}{
		{"wrong password", wrongPassword, nil, kafkaconn.ErrAuthentication, `SASL SCRAM-SHA-512 as user "rialto" (wrong user or password`},
		{"wrong password, partitions given", wrongPassword, []writer.Opt{writer.Partitions(2)}, kafkaconn.ErrAuthentication, "wrong user or password"},
		{"no SASL", noSASL, nil, kafkaconn.ErrAuthentication, "it probably requires SASL"},
		{"untrusted CA", otherCA, nil, kafkaconn.ErrTLS, "the broker's certificate is not trusted"},
		{"plaintext", kafkaconn.Config{}, nil, kafkaconn.ErrTLS, "it probably requires TLS"},
	} {
		start := time.Now()
		w, err := writer.New(append([]writer.Opt{writer.Brokers(sc.Brokers()...), writer.Topic(topic), writer.Security(tc.sec)}, tc.extra...)...)
		if w != nil {
			w.Close(context.Background())
		}
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "writer: topic "+topic+": ") {
			t.Errorf("%s: New: %v; want %v saying %q", tc.name, err, tc.is, tc.want)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: New took %v to fail", tc.name, took)
		}
		if err != nil && strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
	}

	// Settings that cannot work are option errors, every one at once.
	_, err = writer.New(writer.Brokers(sc.Brokers()...), writer.Topic(topic), writer.Security(kafkaconn.Config{
		TLS:  &kafkaconn.TLS{CAFile: filepath.Join(t.TempDir(), "missing.pem")},
		SASL: &kafkaconn.SASL{Mechanism: "GSSAPI", User: "u", Password: "p"},
	}))
	if !errors.Is(err, writer.ErrInvalidOption) || !strings.Contains(err.Error(), "Security.tls.caFile: ") ||
		!strings.Contains(err.Error(), `Security.sasl.mechanism: unknown mechanism "GSSAPI"`) {
		t.Fatalf("bad Security: %v", err)
	}
}
