package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rialtodb/rialto/kafkaconn/kafkaconntest"
)

// secCLI runs one command in-process with env as its environment (and
// nothing else of the process's).
func secCLI(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	app := &App{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	code = run(ctx, app, args)
	return code, out.String(), errb.String()
}

// TestTokenAndKafkaConfigFlags: against a controller that requires an
// admin token and a Kafka cluster that requires TLS and SCRAM-SHA-512,
// the CLI's commands work with --token (or RIALTO_TOKEN) and
// --kafka-config (or RIALTO_KAFKA_CONFIG), and without them fail at once
// with one line saying which flag to set — never showing the token or the
// password.
func TestTokenAndKafkaConfigFlags(t *testing.T) {
	const token = "admin-s3cret-token"
	dir := t.TempDir()
	sc := kafkaconntest.StartWith(t, kafkaconntest.Options{Dir: dir})
	brokers, _ := json.Marshal(sc.Brokers())
	kafka := fmt.Sprintf(`{"tls": {"caFile": %q}, "sasl": {"mechanism": "SCRAM-SHA-512", "user": %q, "passwordFile": %q}}`,
		sc.CAFile, kafkaconntest.User, sc.PasswordFile)
	ctl := secStart(t, "controller", "--config", secWrite(t, dir, "controller.json", fmt.Sprintf(
		`{"regions": [{"id": 1, "name": "local", "brokers": %s}], "localRegion": 1, "httpAddr": "127.0.0.1:0",
		  "replicationFactor": 1, "monitorInterval": "100ms", "token": %q, "kafka": %s}`, brokers, token, kafka)))
	srv := secStart(t, "server", "--config", secWrite(t, dir, "server.json", fmt.Sprintf(
		`{"brokers": %s, "dataDir": %q, "serverId": "s1", "adminTopic": "_rialto_admin", "httpAddr": "127.0.0.1:0",
		  "replicationFactor": 1, "sessionTimeout": "6s", "kafka": %s}`, brokers, filepath.Join(dir, "data"), kafka)))

	// The CLI's file: relative names, resolved against its directory.
	kafkaFile := secWrite(t, dir, "kafka.json", fmt.Sprintf(`{"tls": {"caFile": "ca.pem"},
		"sasl": {"mechanism": "SCRAM-SHA-512", "user": %q, "passwordFile": "password"}}`, kafkaconntest.User))
	url := ctl.out["addr"]
	env := map[string]string{ControllerEnv: url}
	withEnv := func(kv ...string) map[string]string {
		m := map[string]string{ControllerEnv: url}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	// fails runs a command that must fail with exit 1 and one line
	// saying every want, quickly.
	fails := func(env map[string]string, args []string, wants ...string) {
		t.Helper()
		start := time.Now()
		code, out, errs := secCLI(env, args...)
		if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "rialto: ") || time.Since(start) > 15*time.Second {
			t.Fatalf("rialto %s: exit %d after %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, time.Since(start), out, errs)
		}
		for _, w := range wants {
			if !strings.Contains(errs, w) {
				t.Errorf("rialto %s: stderr does not say %q: %s", strings.Join(args, " "), w, errs)
			}
		}
		for _, secret := range []string{token, kafkaconntest.Password, "wrong-token", "not-the-password"} {
			if strings.Contains(out+errs, secret) {
				t.Errorf("rialto %s shows a secret: %s%s", strings.Join(args, " "), out, errs)
			}
		}
	}
	works := func(env map[string]string, args ...string) string {
		t.Helper()
		code, out, errs := secCLI(env, args...)
		if code != 0 {
			t.Fatalf("rialto %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
		}
		if strings.Contains(out+errs, token) || strings.Contains(out+errs, kafkaconntest.Password) {
			t.Errorf("rialto %s shows a secret: %s%s", strings.Join(args, " "), out, errs)
		}
		return out
	}

	// The admin token.
	fails(env, []string{"store", "list"}, "(HTTP 401)", "; set --token or RIALTO_TOKEN to the controller's admin token")
	fails(env, []string{"--token", "wrong-token", "store", "list"}, "; the controller refused the token given by --token or RIALTO_TOKEN")
	// The flag wins over the environment.
	fails(withEnv(TokenEnv, token), []string{"--token", "wrong-token", "store", "list"}, "refused the token")
	const schema = `{"type":"record","name":"Profile","fields":[{"name":"name","type":"string","default":""}]}`
	deadline := time.Now().Add(time.Minute)
	for {
		code, _, errs := secCLI(env, "--token", token, "store", "create", "--name", "profiles", "--key-schema", "string",
			"--value-schema", schema, "--partitions", "2")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store create with --token: %s\ncontroller: %s", errs, ctl.stderr.String())
		}
		time.Sleep(100 * time.Millisecond) // the controller is being elected
	}
	if out := works(env, "--token", token, "store", "list"); !strings.Contains(out, "profiles") {
		t.Fatalf("store list with --token: %s", out)
	}
	if out := works(withEnv(TokenEnv, token+"\n"), "store", "list"); !strings.Contains(out, "profiles") {
		t.Fatalf("store list with RIALTO_TOKEN: %s", out)
	}
	if out := works(withEnv(TokenEnv, token), "--help"); !strings.Contains(out, "--token") || !strings.Contains(out, "--kafka-config") {
		t.Fatalf("--help does not show the flags: %s", out)
	}

	// The sink takes --token too, unless its file has a token.
	sinkFile := secWrite(t, dir, "sink.properties", "name=s\ntopics=clicks\nrialto.store=profiles\nrialto.controller.url="+url+"\n")
	fails(env, []string{"sink", "--config", sinkFile, "--metrics-addr", "off"}, "; set --token or RIALTO_TOKEN to the controller's admin token")
	sinkFile = secWrite(t, dir, "sink-token.properties", secRead(t, sinkFile)+"rialto.controller.token=wrong-token\n")
	fails(withEnv(TokenEnv, token), []string{"sink", "--config", sinkFile, "--metrics-addr", "off"},
		"; the controller refused rialto.controller.token of "+sinkFile)

	// Kafka through TLS + SCRAM: the writer, a region's servers (--wait),
	// the topic's records, a push.
	tok := withEnv(TokenEnv, token)
	out := works(tok, "--kafka-config", kafkaFile, "write", "put", "--store", "profiles", "--key", "u1", "--value", `{"name":"Ada"}`, "--wait")
	if !strings.Contains(out, "readable in local") {
		t.Fatalf("write put --wait: %s\nserver: %s", out, srv.stderr.String())
	}
	out = works(withEnv(TokenEnv, token, KafkaConfigEnv, kafkaFile), "topic", "inspect", "--store", "profiles", "--rt")
	if !strings.Contains(out, "u1") || !strings.Contains(out, "Ada") {
		t.Fatalf("topic inspect with RIALTO_KAFKA_CONFIG: %s", out)
	}
	out = works(tok, "--kafka-config", kafkaFile, "read", "get", "--store", "profiles", "--key", "u1")
	if !strings.Contains(out, "Ada") {
		t.Fatalf("read get: %s", out)
	}
	// A push that cannot reach Kafka kills its version; the next one goes.
	input := secWrite(t, dir, "profiles.jsonl", `{"key": "u2", "value": {"name": "Grace"}}`+"\n")
	needTLS := []string{"kafka TLS handshake failed", "it probably requires TLS", "set --kafka-config or RIALTO_KAFKA_CONFIG"}
	fails(tok, []string{"push", "--store", "profiles", "--input", input, "--no-wait", "--progress", "off"}, needTLS...)
	out = works(tok, "--kafka-config", kafkaFile, "push", "--store", "profiles", "--input", input, "--no-wait", "--progress", "off")
	if !strings.Contains(out, "pushed: 1 records") {
		t.Fatalf("push: %s", out)
	}

	// Without the settings, or with wrong ones: one line naming the cause
	// and the flag.
	fails(tok, []string{"write", "put", "--store", "profiles", "--key", "u3", "--value", `{"name":"Lin"}`}, needTLS...)
	fails(tok, []string{"topic", "inspect", "--store", "profiles", "--rt"}, needTLS...)
	fails(tok, []string{"read", "get", "--store", "profiles", "--key", "u1"}, needTLS...)
	secWrite(t, dir, "wrong-password", "not-the-password\n")
	wrongFile := secWrite(t, dir, "wrong-kafka.json", strings.Replace(secRead(t, kafkaFile), `"password"`, `"wrong-password"`, 1))
	fails(tok, []string{"--kafka-config", wrongFile, "write", "put", "--store", "profiles", "--key", "u3", "--value", `{"name":"Lin"}`},
		"kafka authentication failed", `SASL SCRAM-SHA-512 as user "rialto" (wrong user or password`, "check the settings in --kafka-config "+wrongFile)
	fails(tok, []string{"--kafka-config", wrongFile, "topic", "inspect", "--store", "profiles", "--rt"}, "kafka authentication failed")
	// A file that cannot work: every problem at once.
	badFile := secWrite(t, dir, "bad-kafka.json", `{"tls": {"caFile": "missing.pem", "certFile": "client.pem"},
		"sasl": {"mechanism": "GSSAPI", "password": "not-the-password"}}`)
	fails(tok, []string{"--kafka-config", badFile, "topic", "inspect", "--store", "profiles", "--rt"},
		"--kafka-config "+badFile+": tls.caFile: "+filepath.Join(dir, "missing.pem")+": no such file or directory",
		"tls.keyFile: required with a client certificate", `sasl.mechanism: unknown mechanism "GSSAPI"`, "sasl.user: required")
	serverFile := filepath.Join(dir, "server.json")
	fails(tok, []string{"--kafka-config", serverFile, "topic", "inspect", "--store", "profiles", "--rt"},
		`unknown field "brokers"`, `the file holds only the "kafka" section`)
	// Commands that never reach Kafka never read the file.
	works(tok, "--kafka-config", badFile, "store", "list")
}
