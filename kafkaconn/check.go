package kafkaconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors Check wraps when the cluster refuses the security settings, which
// retrying cannot fix.
var (
	// ErrAuthentication: the broker refused the SASL credentials or
	// mechanism, or it requires SASL and none is configured.
	ErrAuthentication = errors.New("kafka authentication failed")
	// ErrTLS: the broker's certificate was not accepted, the broker
	// refused the client's, or one side speaks TLS and the other does not.
	ErrTLS = errors.New("kafka TLS handshake failed")
)

// Refused reports whether err is one of Check's refusals (ErrAuthentication
// or ErrTLS), as opposed to a cluster that could not be reached.
func Refused(err error) bool {
	return errors.Is(err, ErrAuthentication) || errors.Is(err, ErrTLS)
}

// DefaultCheckTimeout bounds Check when ctx has no earlier deadline: a
// refusal comes back in milliseconds; the bound only matters for a broker
// that does not answer.
const DefaultCheckTimeout = 10 * time.Second

// API keys of the requests a connection starts with.
const (
	keySASLHandshake    int16 = 17
	keyAPIVersions      int16 = 18
	keySASLAuthenticate int16 = 36
)

// handshakeTimeout bounds Check's TLS handshake: a plaintext listener
// reads the ClientHello as the start of a request and never answers.
const handshakeTimeout = 3 * time.Second

// Check connects to one of brokers with c's settings and returns nil once
// the connection is in: TLS handshake, SASL and a metadata request done.
// When the cluster refuses c's settings the error wraps ErrAuthentication
// or ErrTLS and names the setting to look at; any other error (a broker
// that cannot be reached yet) is returned as it is, and retrying may fix
// it. Without a deadline in ctx, Check gives up after DefaultCheckTimeout.
// It never includes the password in an error.
func (c Config) Check(ctx context.Context, brokers []string) error {
	tc, mech, err := c.build()
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCheckTimeout)
		defer cancel()
	}
	// kfake (and some brokers) close the connection on bad credentials
	// instead of answering SASL_AUTHENTICATION_FAILED; franz-go retries
	// that EOF until ctx ends, so the hook ends the wait at once.
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &failureHook{onSASL: cancel}
	// The same TLS config Opts gives kgo.DialTLSConfig, but handshaking
	// here tells a listener that never answers the handshake from one
	// that cannot be reached.
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.WithHooks(h), kgo.Dialer(dialer(tc))}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	// A metadata request, not Ping (ApiVersions): a broker that requires
	// SASL answers ApiVersions before authentication.
	_, err = cl.Request(ctx, metadataRequest())
	if err == nil {
		return nil
	}
	key, first := h.failure()
	if first != nil && errors.Is(err, context.Canceled) && parent.Err() == nil {
		err = first // the hook cut the retries short: report what failed
	}
	return c.explain(strings.Join(brokers, ","), err, key)
}

// errNoHandshake: the TCP connection was accepted, the TLS handshake never
// answered.
var errNoHandshake = errors.New("no answer to the TLS handshake")

// dialer dials TCP and, with tc, completes the TLS handshake within
// handshakeTimeout.
func dialer(tc *tls.Config) func(ctx context.Context, network, host string) (net.Conn, error) {
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		conn, err := (&net.Dialer{Timeout: DefaultCheckTimeout}).DialContext(ctx, network, host)
		if err != nil || tc == nil {
			return conn, err
		}
		cfg := tc.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(host)
		}
		tconn := tls.Client(conn, cfg)
		hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
		defer cancel()
		if err := tconn.HandshakeContext(hctx); err != nil {
			conn.Close()
			if hctx.Err() != nil && ctx.Err() == nil {
				return nil, fmt.Errorf("%s: %w within %s", host, errNoHandshake, handshakeTimeout)
			}
			return nil, err
		}
		return tconn, nil
	}
}

// explain wraps err with the refusal it shows, if any; key is the request
// whose response could not be read (-1: none).
func (c Config) explain(brokers string, err error, key int16) error {
	var (
		unknownCA  x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		verify     *tls.CertificateVerificationError
		opErr      *net.OpError
		header     tls.RecordHeaderError
		firstRead  *kgo.ErrFirstReadEOF
		kafkaError *kerr.Error
	)
	saslDesc := "no SASL"
	if c.SASL != nil {
		saslDesc = fmt.Sprintf("SASL %s as user %q", strings.ToUpper(c.SASL.Mechanism), c.SASL.User)
	}
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return fmt.Errorf("%w: %s: the broker's certificate is not trusted (check the CA file and the server name): %w", ErrTLS, brokers, err)
	case errors.As(err, &header):
		return fmt.Errorf("%w: %s: the broker does not speak TLS on this port (turn TLS off, or use its TLS listener): %w", ErrTLS, brokers, err)
	case errors.Is(err, errNoHandshake):
		return fmt.Errorf("%w: %s: the broker accepted the connection but did not answer the TLS handshake; it probably does not speak TLS on this port (turn TLS off, or use its TLS listener): %w", ErrTLS, brokers, err)
	case errors.As(err, &opErr) && opErr.Op == "remote error": // a TLS alert from the broker
		return fmt.Errorf("%w: %s: the broker refused the TLS handshake (does it require a client certificate and key?): %w", ErrTLS, brokers, err)
	case errors.As(err, &kafkaError) && (kafkaError.Code == kerr.SaslAuthenticationFailed.Code ||
		kafkaError.Code == kerr.UnsupportedSaslMechanism.Code || kafkaError.Code == kerr.IllegalSaslState.Code):
		return fmt.Errorf("%w: %s refused %s (wrong user or password, or the mechanism is not enabled for the user): %w", ErrAuthentication, brokers, saslDesc, err)
	case key == keySASLHandshake || key == keySASLAuthenticate:
		return fmt.Errorf("%w: %s closed the connection during %s (wrong user or password, or the mechanism is not enabled for the user): %w", ErrAuthentication, brokers, saslDesc, err)
	case errors.As(err, &firstRead) && c.TLS == nil && (key == keyAPIVersions || key < 0):
		return fmt.Errorf("%w: %s closed the connection at once: it probably requires TLS, which the configuration does not turn on: %w", ErrTLS, brokers, err)
	case errors.As(err, &firstRead) && c.SASL == nil:
		return fmt.Errorf("%w: %s closed the connection after the first request: it probably requires SASL, which the configuration does not set: %w", ErrAuthentication, brokers, err)
	case errors.As(err, &firstRead):
		return fmt.Errorf("%w: %s closed the connection at once (does it speak TLS on this port, with %s?): %w", ErrTLS, brokers, saslDesc, err)
	}
	return fmt.Errorf("kafka %s: %w", brokers, err)
}

// failureHook remembers the first request whose write or response failed,
// and the first SASL request that failed, calling onSASL then.
type failureHook struct {
	onSASL  func()
	mu      sync.Mutex
	err     error
	k       int16
	saslErr error
	saslK   int16
}

func (h *failureHook) record(key int16, err error) {
	if err == nil {
		return
	}
	sasl := key == keySASLHandshake || key == keySASLAuthenticate
	h.mu.Lock()
	if h.err == nil {
		h.err, h.k = err, key
	}
	firstSASL := sasl && h.saslErr == nil
	if firstSASL {
		h.saslErr, h.saslK = err, key
	}
	h.mu.Unlock()
	if firstSASL {
		h.onSASL()
	}
}

// failure returns the key and error of the failed SASL request, else of
// the first failed request (-1, nil: none).
func (h *failureHook) failure() (int16, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.saslErr != nil:
		return h.saslK, h.saslErr
	case h.err != nil:
		return h.k, h.err
	}
	return -1, nil
}

func (h *failureHook) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	h.record(key, err)
}

func (h *failureHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	h.record(key, err)
}

// metadataRequest asks for the brokers and no topics.
func metadataRequest() *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	return req
}
