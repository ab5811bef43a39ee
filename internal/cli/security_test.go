package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/kafkaconn/kafkaconntest"
)

// secPart is a `rialto controller|server|sink` running in-process.
type secPart struct {
	out    map[string]string // its first line of JSON output
	stderr *syncBuffer
}

// secStart runs the command until t ends and returns once it printed its
// first line (the address it serves); it fails t if the command exits.
func secStart(t *testing.T, args ...string) *secPart {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &secPart{stderr: &syncBuffer{}}
	code := make(chan int, 1)
	go func() {
		c := Main(ctx, append([]string{"-o", "json"}, args...), pw, p.stderr)
		pw.Close()
		code <- c
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case c := <-code:
			if c != 0 {
				t.Errorf("%s exited %d: %s", args[0], c, p.stderr.String())
			}
		case <-time.After(time.Minute):
			t.Errorf("%s did not stop", args[0])
		}
	})
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("%s printed nothing; stderr %s", args[0], p.stderr.String())
	}
	go io.Copy(io.Discard, pr)
	if err := json.Unmarshal(sc.Bytes(), &p.out); err != nil {
		t.Fatalf("%s output %q: %v", args[0], sc.Text(), err)
	}
	return p
}

func secWrite(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKafkaSecurityFromConfigFiles: a controller, a server and a sink,
// each configured only by its file, run against a broker that requires
// TLS and SCRAM-SHA-512: a record on the source topic ends up readable
// from the server. A wrong password in a file makes the command exit at
// once with one line naming the problem, without the password.
func TestKafkaSecurityFromConfigFiles(t *testing.T) {
	dir := t.TempDir()
	sc := kafkaconntest.StartWith(t, kafkaconntest.Options{Dir: dir})
	brokers, _ := json.Marshal(sc.Brokers())
	kafka := fmt.Sprintf(`{"tls": {"caFile": %q}, "sasl": {"mechanism": "SCRAM-SHA-512", "user": %q, "passwordFile": %q}}`,
		sc.CAFile, kafkaconntest.User, sc.PasswordFile)
	wrongPW := secWrite(t, dir, "wrong-password", "not-the-password\n")
	wrongKafka := strings.Replace(kafka, sc.PasswordFile, wrongPW, 1)

	ctlJSON := `{"regions": [{"id": 1, "name": "local", "brokers": ` + string(brokers) + `}], "localRegion": 1,
		"httpAddr": "127.0.0.1:0", "replicationFactor": 1, "monitorInterval": "100ms", "kafka": %s}`
	srvJSON := `{"brokers": ` + string(brokers) + `, "dataDir": %q, "serverId": "s1", "adminTopic": "_rialto_admin",
		"httpAddr": "127.0.0.1:0", "replicationFactor": 1, "sessionTimeout": "6s", "kafka": %s}`

	t.Run("wrong password", func(t *testing.T) {
		for _, args := range [][]string{
			{"controller", "--config", secWrite(t, dir, "bad-controller.json", fmt.Sprintf(ctlJSON, wrongKafka))},
			{"server", "--config", secWrite(t, dir, "bad-server.json", fmt.Sprintf(srvJSON, filepath.Join(dir, "bad-data"), wrongKafka))},
		} {
			var stdout, stderr syncBuffer
			start := time.Now()
			code := Main(context.Background(), args, &stdout, &stderr)
			line := stderr.String()
			if code != 1 || time.Since(start) > 10*time.Second {
				t.Fatalf("%s: exit %d after %v: %s", args[0], code, time.Since(start), line)
			}
			if !strings.HasPrefix(line, "rialto: ") || !strings.Contains(line, "kafka authentication failed") ||
				!strings.Contains(line, `SASL SCRAM-SHA-512 as user "rialto" (wrong user or password`) {
				t.Errorf("%s: stderr does not name the problem: %q", args[0], line)
			}
			if strings.Contains(line, "not-the-password") {
				t.Errorf("%s: stderr shows the password: %q", args[0], line)
			}
		}
	})

	ctl := secStart(t, "controller", "--config", secWrite(t, dir, "controller.json", fmt.Sprintf(ctlJSON, kafka)))
	srv := secStart(t, "server", "--config", secWrite(t, dir, "server.json", fmt.Sprintf(srvJSON, filepath.Join(dir, "data"), kafka)))

	ctx := context.Background()
	cl := client.New(ctl.out["addr"])
	const schema = `{"type":"record","name":"Profile","fields":[{"name":"name","type":"string","default":""}]}`
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := cl.CreateStore(ctx, api.CreateStoreRequest{Name: "profiles", KeySchema: `"string"`, ValueSchema: schema})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("creating the store over TLS+SCRAM: %v\ncontroller: %s", err, ctl.stderr.String())
		}
		time.Sleep(100 * time.Millisecond) // the controller is being elected
	}

	// The source topic and a record on it, through a client that gets in.
	sc.Topic(t, "clicks", 2, nil)
	if err := sc.Client(t).ProduceSync(ctx, &kgo.Record{Topic: "clicks", Key: []byte("u1"), Value: []byte(`{"name":"Ada"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// The sink: the same settings as rialto.kafka.* keys, files relative
	// to the config file.
	sinkFile := secWrite(t, dir, "sink.properties", `name=secure
topics=clicks
rialto.store=profiles
rialto.controller.url=`+ctl.out["addr"]+`
offset.flush.interval.ms=50
rialto.kafka.tls.ca.file=ca.pem
rialto.kafka.sasl.mechanism=SCRAM-SHA-512
rialto.kafka.sasl.user=rialto
rialto.kafka.sasl.password.file=password
`)
	snk := secStart(t, "sink", "--config", sinkFile, "--metrics-addr", "off")

	deadline = time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(srv.out["addr"] + "/v1/stores/profiles/keys/u1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"Ada"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("u1 not readable within a minute: %d %s\nserver: %s", resp.StatusCode, body, srv.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The sink refuses a wrong password at once too.
	bad := secWrite(t, dir, "bad-sink.properties", strings.Replace(secRead(t, sinkFile), "password.file=password", "password.file=wrong-password", 1))
	var stdout, stderr syncBuffer
	start := time.Now()
	if code := Main(ctx, []string{"sink", "--config", bad, "--metrics-addr", "off"}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "sink secure: kafka authentication failed") || time.Since(start) > 10*time.Second {
		t.Fatalf("sink with a wrong password: exit %d after %v: %s", code, time.Since(start), stderr.String())
	}
	for _, p := range []*secPart{ctl, srv, snk} {
		if strings.Contains(p.stderr.String(), kafkaconntest.Password) {
			t.Errorf("a log shows the password: %s", p.stderr.String())
		}
	}
}

func secRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
