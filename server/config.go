package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// LoadConfig reads a server configuration file (JSON, the field names of
// Config's json tags; durations as strings such as "10s"). Unknown keys are
// errors. Defaults are not applied; New applies them.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("server: config: %w", err)
	}
	return ParseConfig(data)
}

// ParseConfig is LoadConfig on bytes.
func ParseConfig(data []byte) (Config, error) {
	type plain Config // without the methods, so decoding does not recurse
	var file struct {
		plain
		CompactionLag  duration `json:"compactionLag"`
		SessionTimeout duration `json:"sessionTimeout"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return Config{}, fmt.Errorf("server: config: %w", err)
	}
	c := Config(file.plain)
	c.CompactionLag, c.SessionTimeout = time.Duration(file.CompactionLag), time.Duration(file.SessionTimeout)
	return c, nil
}

// duration reads "10s"-style strings.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as 10s, got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}
