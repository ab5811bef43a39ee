package server

import "testing"

// FuzzParseConfig: any configuration file either parses or fails with an
// error, never a panic; Validate then reports problems as errors too.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"brokers":["kafka-1:9092"],"dataDir":"/var/lib/rialto","serverId":"server-1","httpAddr":"127.0.0.1:7080","compactionLag":"10m"}`))
	f.Add([]byte(`{"sessionTimeout":"x"}`))
	f.Add([]byte(`{"cacheSize":-1,"http":{"maxBatchKeys":-5}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		c.EnsureDefaults()
		_ = c.Validate()
	})
}
