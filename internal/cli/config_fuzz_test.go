package cli

import "testing"

// FuzzParseControllerConfig: any controller configuration file either
// parses or fails with an error, never a panic; Validate then reports
// problems as errors too.
func FuzzParseControllerConfig(f *testing.F) {
	f.Add([]byte(`{"regions":[{"id":1,"name":"us","brokers":["kafka-us:9092"]},{"id":2,"name":"eu","brokers":["kafka-eu:9092"]}],"localRegion":1,"httpAddr":"127.0.0.1:7070","monitorInterval":"500ms"}`))
	f.Add([]byte(`{"versionCompactionLag":5}`))
	f.Add([]byte(`{"regions":[{"id":1},{"id":1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseControllerConfig(data)
		if err != nil {
			return
		}
		_ = c.Validate()
	})
}
