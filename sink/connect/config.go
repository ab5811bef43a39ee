package connect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rialtodb/rialto/kafkaconn"
)

// Converters.
const (
	ConverterString = "string"
	ConverterJSON   = "json"
	ConverterAvro   = "avro"
)

// Write modes.
const (
	ModePut    = "put"
	ModeUpdate = "update"
)

// Tombstone behaviours.
const (
	TombstoneDelete = "delete"
	TombstoneIgnore = "ignore"
	TombstoneFail   = "fail"
)

// Timestamp sources.
const (
	TimestampRecord = "record"
	TimestampField  = "field"
	TimestampNone   = "none"
)

// Defaults of the keys a config leaves out.
const (
	DefaultOffsetFlushInterval = 10 * time.Second
	DefaultRetryDelayMax       = 60 * time.Second
	DefaultMaxPollRecords      = 10_000
	DefaultControllerURL       = "http://127.0.0.1:7070"
)

// Config is one connector's configuration, in Kafka Connect's key names
// where Connect has one and under "rialto." otherwise. Parse builds it from
// a file; the zero value plus EnsureDefaults is the documented default.
type Config struct {
	Name        string         // name
	Topics      []string       // topics
	TopicsRegex *regexp.Regexp // topics.regex
	TasksMax    int            // tasks.max (default 1): parallel workers, partitions spread over them

	KeyConverter   ConverterConfig // key.converter (default string)
	ValueConverter ConverterConfig // value.converter (default json)

	ErrorsToleranceAll  bool          // errors.tolerance: none (default) | all
	RetryTimeout        time.Duration // errors.retry.timeout in ms (default 0: no retry; -1: forever)
	RetryDelayMax       time.Duration // errors.retry.delay.max.ms (default 60000)
	LogErrors           bool          // errors.log.enable
	LogMessages         bool          // errors.log.include.messages
	DLQTopic            string        // errors.deadletterqueue.topic.name
	DLQContextHeaders   bool          // errors.deadletterqueue.context.headers.enable
	DLQReplication      int16         // errors.deadletterqueue.topic.replication.factor (default -1: the broker's default)
	BootstrapServers    []string      // bootstrap.servers: the source cluster (default: the store's region brokers)
	OffsetFlushInterval time.Duration // offset.flush.interval.ms (default 10000)
	ResetToLatest       bool          // consumer.override.auto.offset.reset: earliest (default) | latest
	MaxPollRecords      int           // consumer.override.max.poll.records (default 10000)

	Store           string            // rialto.store (required)
	ControllerURL   string            // rialto.controller.url (default the CLI's --controller, else DefaultControllerURL)
	ControllerToken kafkaconn.Secret  // rialto.controller.token: prints as <redacted>
	Region          string            // rialto.region: name or id of the region whose RT topic is written (default the controller's local region)
	Mode            string            // rialto.write.mode: put (default) | update
	FieldMap        map[string]string // rialto.fields.mapping: "src:dst,…" renames source fields
	Exclude         []string          // rialto.fields.exclude: source fields dropped
	IgnoreUnknown   bool              // rialto.fields.unknown: fail (default) | ignore
	ListAdd         map[string]string // rialto.update.list.add: "src[:dst],…" setUnion into list dst
	ListRemove      map[string]string // rialto.update.list.remove: setDiff
	MapPut          map[string]string // rialto.update.map.put: mapUnion (source value: an object)
	MapRemove       map[string]string // rialto.update.map.remove: mapDiff (source value: key or array of keys)
	Tombstone       string            // rialto.tombstone: delete (default) | ignore | fail
	TimestampSource string            // rialto.timestamp.source: record (default) | field | none
	TimestampField  string            // rialto.timestamp.field: the source field holding ms since the epoch

	// Kafka secures every Kafka connection of the sink (the source
	// consumer, the store's RT topic, dead letters): rialto.kafka.*, see
	// KafkaKeys.
	Kafka kafkaconn.Config
}

// KafkaKeys maps the rialto.kafka.* keys to the kafkaconn.Config fields
// they set (the JSON paths of the server's and controller's "kafka"
// section). rialto.kafka.tls=true turns TLS on with the system roots; any
// rialto.kafka.tls.* key turns it on too, any rialto.kafka.sasl.* key
// turns SASL on.
var KafkaKeys = map[string]string{
	"rialto.kafka.tls":                      "tls",
	"rialto.kafka.tls.ca.file":              "tls.caFile",
	"rialto.kafka.tls.cert.file":            "tls.certFile",
	"rialto.kafka.tls.key.file":             "tls.keyFile",
	"rialto.kafka.tls.server.name":          "tls.serverName",
	"rialto.kafka.tls.insecure.skip.verify": "tls.insecureSkipVerify",
	"rialto.kafka.sasl.mechanism":           "sasl.mechanism",
	"rialto.kafka.sasl.user":                "sasl.user",
	"rialto.kafka.sasl.password":            "sasl.password",
	"rialto.kafka.sasl.password.file":       "sasl.passwordFile",
}

// kafkaFileKeys are the rialto.kafka.* keys naming files; LoadFile
// resolves them against the config file's directory.
var kafkaFileKeys = []string{"rialto.kafka.tls.ca.file", "rialto.kafka.tls.cert.file", "rialto.kafka.tls.key.file", "rialto.kafka.sasl.password.file"}

// ConverterConfig is a key or value converter with its options.
type ConverterConfig struct {
	Kind          string // string | json | avro
	SchemasEnable bool   // <prefix>.schemas.enable (json): payloads wrapped as {"schema":…,"payload":…}
	SchemaFile    string // <prefix>.schema.file (avro): the writer schema of the bytes
	Schema        string // the file's contents, read by Parse
}

// converterClasses maps Kafka Connect's converter classes to ours.
var converterClasses = map[string]string{
	"string": ConverterString, "json": ConverterJSON, "avro": ConverterAvro,
	"org.apache.kafka.connect.storage.StringConverter": ConverterString,
	"org.apache.kafka.connect.json.JsonConverter":      ConverterJSON,
	"io.confluent.connect.avro.AvroConverter":          ConverterAvro,
}

// knownKeys lists every key Parse accepts.
var knownKeys = map[string]bool{
	"name": true, "connector.class": true, "topics": true, "topics.regex": true, "tasks.max": true,
	"key.converter": true, "value.converter": true,
	"key.converter.schemas.enable": true, "value.converter.schemas.enable": true,
	"key.converter.schema.file": true, "value.converter.schema.file": true,
	"errors.tolerance": true, "errors.retry.timeout": true, "errors.retry.delay.max.ms": true,
	"errors.log.enable": true, "errors.log.include.messages": true,
	"errors.deadletterqueue.topic.name": true, "errors.deadletterqueue.context.headers.enable": true,
	"errors.deadletterqueue.topic.replication.factor": true,
	"bootstrap.servers": true, "offset.flush.interval.ms": true,
	"consumer.override.auto.offset.reset": true, "consumer.override.max.poll.records": true,
	"rialto.store": true, "rialto.controller.url": true, "rialto.controller.token": true, "rialto.region": true,
	"rialto.write.mode": true, "rialto.fields.mapping": true, "rialto.fields.exclude": true, "rialto.fields.unknown": true,
	"rialto.update.list.add": true, "rialto.update.list.remove": true, "rialto.update.map.put": true, "rialto.update.map.remove": true,
	"rialto.tombstone": true, "rialto.timestamp.source": true, "rialto.timestamp.field": true,
}

func init() {
	for k := range KafkaKeys {
		knownKeys[k] = true
	}
}

// KnownKeys returns every accepted key, sorted.
func KnownKeys() []string {
	out := make([]string, 0, len(knownKeys))
	for k := range knownKeys {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// LoadFile reads a connector config: JSON when the file starts with "{"
// (Connect's REST form, either flat or {"name":…,"config":{…}}), Java
// properties otherwise. Relative schema files are resolved against the
// config file's directory, as are the rialto.kafka.* files.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	kv, err := ParseKeyValues(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, k := range append([]string{"key.converter.schema.file", "value.converter.schema.file"}, kafkaFileKeys...) {
		if f := kv[k]; f != "" && !filepath.IsAbs(f) {
			kv[k] = filepath.Join(filepath.Dir(path), f)
		}
	}
	cfg, err := Parse(kv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseKeyValues reads JSON (an object of strings, numbers and booleans,
// flat or under "config") or Java properties into keys and values.
func ParseKeyValues(data []byte) (map[string]string, error) {
	if t := bytes.TrimLeftFunc(data, unicode.IsSpace); len(t) > 0 && t[0] == '{' {
		return parseJSONConfig(t)
	}
	return parseProperties(data)
}

func parseJSONConfig(data []byte) (map[string]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("JSON config: %w", err)
	}
	if raw, ok := top["config"]; ok {
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(raw, &inner); err != nil {
			return nil, fmt.Errorf(`JSON config: "config": %w`, err)
		}
		if n, ok := top["name"]; ok {
			if _, dup := inner["name"]; !dup {
				inner["name"] = n
			}
		}
		for k := range top {
			if k != "config" && k != "name" {
				return nil, fmt.Errorf("JSON config: unexpected member %q beside \"config\"", k)
			}
		}
		top = inner
	}
	out := make(map[string]string, len(top))
	var errs []error
	for k, raw := range top {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
			continue
		}
		switch x := v.(type) {
		case string:
			out[k] = x
		case bool:
			out[k] = strconv.FormatBool(x)
		case float64:
			out[k] = strings.TrimSpace(string(raw))
		case nil:
			out[k] = ""
		default:
			errs = append(errs, fmt.Errorf("%s: want a string, number or boolean, got %s", k, raw))
		}
	}
	return out, errors.Join(errs...)
}

// parseProperties reads the Java properties format: key=value, key:value
// or "key value"; # and ! comments; a trailing backslash continues a line;
// \t \n \r \f \\ \uXXXX escapes. A key given twice is an error (Java keeps
// the last silently; a config with both is almost always a mistake).
func parseProperties(data []byte) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var logical strings.Builder
	lineNo, startLine := 0, 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimLeftFunc(sc.Text(), unicode.IsSpace)
		if logical.Len() == 0 {
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
			startLine = lineNo
		}
		// An odd number of trailing backslashes continues the line.
		n := len(line) - len(strings.TrimRight(line, `\`))
		if n%2 == 1 {
			logical.WriteString(line[:len(line)-1])
			continue
		}
		logical.WriteString(line)
		k, v, err := splitProperty(logical.String())
		logical.Reset()
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", startLine, err))
			continue
		}
		if _, dup := out[k]; dup {
			errs = append(errs, fmt.Errorf("line %d: %s given twice", startLine, k))
			continue
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if logical.Len() > 0 {
		k, v, err := splitProperty(logical.String())
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", startLine, err))
		} else if _, dup := out[k]; dup {
			errs = append(errs, fmt.Errorf("line %d: %s given twice", startLine, k))
		} else {
			out[k] = v
		}
	}
	return out, errors.Join(errs...)
}

func splitProperty(s string) (string, string, error) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	key := s[:min(i, len(s))]
	rest := ""
	if i < len(s) {
		rest = strings.TrimLeft(s[i:], " \t\f")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = strings.TrimLeft(rest[1:], " \t\f")
		}
	}
	k, err := unescape(key)
	if err != nil {
		return "", "", err
	}
	v, err := unescape(rest)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", k, err)
	}
	return k, v, nil
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", errors.New(`truncated \u escape`)
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf(`bad \u escape %q`, s[i+1:i+5])
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// Parse builds a Config from keys and values, reporting every problem at
// once: unknown keys, bad values, missing required keys and contradictory
// combinations. Schema files are read here.
func Parse(kv map[string]string) (*Config, error) {
	c := &Config{}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var unknown []string
	for k := range kv {
		if !knownKeys[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		bad("%s: unknown key", k)
	}
	get := func(k string) (string, bool) {
		v, ok := kv[k]
		return strings.TrimSpace(v), ok
	}
	str := func(k, def string) string {
		if v, ok := get(k); ok {
			return v
		}
		return def
	}
	boolean := func(k string) bool {
		v, ok := get(k)
		if !ok {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("%s=%q: want true or false", k, v)
		}
		return b
	}
	integer := func(k string, def, lo, hi int64) int64 {
		v, ok := get(k)
		if !ok {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			bad("%s=%q: want an integer in %d..%d", k, v, lo, hi)
			return def
		}
		return n
	}
	oneOf := func(k, def string, allowed ...string) string {
		v := strings.ToLower(str(k, def))
		if !slices.Contains(allowed, v) {
			bad("%s=%q: want one of %s", k, v, strings.Join(allowed, ", "))
			return def
		}
		return v
	}
	list := func(k string) []string {
		v, _ := get(k)
		var out []string
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		return out
	}
	pairs := func(k string, sameName bool) map[string]string {
		items := list(k)
		if len(items) == 0 {
			return nil
		}
		out := map[string]string{}
		for _, it := range items {
			src, dst, ok := strings.Cut(it, ":")
			src, dst = strings.TrimSpace(src), strings.TrimSpace(dst)
			if !ok {
				if !sameName {
					bad("%s: %q: want source:target", k, it)
					continue
				}
				dst = src
			}
			if src == "" || dst == "" {
				bad("%s: %q: empty field name", k, it)
				continue
			}
			if _, dup := out[src]; dup {
				bad("%s: source field %q listed twice", k, src)
				continue
			}
			out[src] = dst
		}
		return out
	}

	c.Name = str("name", "")
	if c.Name == "" {
		bad("name: required")
	}
	c.Topics = list("topics")
	if re, ok := get("topics.regex"); ok && re != "" {
		r, err := regexp.Compile(re)
		if err != nil {
			bad("topics.regex: %v", err)
		} else {
			c.TopicsRegex = r
		}
	}
	_, hasRegex := get("topics.regex")
	switch {
	case len(c.Topics) > 0 && hasRegex:
		bad("topics and topics.regex: give exactly one")
	case len(c.Topics) == 0 && !hasRegex:
		bad("topics or topics.regex: required")
	}
	c.TasksMax = int(integer("tasks.max", 1, 1, 1024))

	conv := func(prefix, def string) ConverterConfig {
		var cv ConverterConfig
		raw := str(prefix, def)
		kind, ok := converterClasses[raw]
		if !ok {
			kind, ok = converterClasses[strings.ToLower(raw)]
		}
		if !ok {
			bad("%s=%q: want string, json or avro", prefix, raw)
			kind = def
		}
		cv.Kind = kind
		if _, ok := get(prefix + ".schemas.enable"); ok {
			cv.SchemasEnable = boolean(prefix + ".schemas.enable")
			if kind != ConverterJSON {
				bad("%s.schemas.enable: only for the json converter, not %s", prefix, kind)
			}
		}
		cv.SchemaFile = str(prefix+".schema.file", "")
		switch {
		case kind == ConverterAvro && cv.SchemaFile == "":
			bad("%s.schema.file: required by the avro converter (the Avro schema the bytes are written in)", prefix)
		case kind != ConverterAvro && cv.SchemaFile != "":
			bad("%s.schema.file: only for the avro converter, not %s", prefix, kind)
		case cv.SchemaFile != "":
			b, err := os.ReadFile(cv.SchemaFile)
			if err != nil {
				bad("%s.schema.file: %v", prefix, err)
			}
			cv.Schema = string(b)
		}
		return cv
	}
	c.KeyConverter = conv("key.converter", ConverterString)
	c.ValueConverter = conv("value.converter", ConverterJSON)

	c.ErrorsToleranceAll = oneOf("errors.tolerance", "none", "none", "all") == "all"
	if rt := integer("errors.retry.timeout", 0, -1, 1<<40); rt < 0 {
		c.RetryTimeout = -1
	} else {
		c.RetryTimeout = time.Duration(rt) * time.Millisecond
	}
	c.RetryDelayMax = time.Duration(integer("errors.retry.delay.max.ms", DefaultRetryDelayMax.Milliseconds(), 1, 1<<40)) * time.Millisecond
	c.LogErrors = boolean("errors.log.enable")
	c.LogMessages = boolean("errors.log.include.messages")
	c.DLQTopic = str("errors.deadletterqueue.topic.name", "")
	c.DLQContextHeaders = boolean("errors.deadletterqueue.context.headers.enable")
	c.DLQReplication = int16(integer("errors.deadletterqueue.topic.replication.factor", -1, -1, 32767))
	if c.DLQReplication == 0 {
		bad("errors.deadletterqueue.topic.replication.factor=0: want -1 (broker default) or at least 1")
	}
	if c.DLQTopic != "" && !c.ErrorsToleranceAll {
		bad("errors.deadletterqueue.topic.name: needs errors.tolerance=all (with none the first bad record stops the sink)")
	}
	if c.DLQTopic == "" {
		if _, ok := get("errors.deadletterqueue.context.headers.enable"); ok && c.DLQContextHeaders {
			bad("errors.deadletterqueue.context.headers.enable: needs errors.deadletterqueue.topic.name")
		}
	}
	if c.DLQTopic != "" && (slices.Contains(c.Topics, c.DLQTopic) || (c.TopicsRegex != nil && c.TopicsRegex.MatchString(c.DLQTopic))) {
		bad("errors.deadletterqueue.topic.name=%q: is also a topic the sink reads", c.DLQTopic)
	}
	c.BootstrapServers = list("bootstrap.servers")
	c.OffsetFlushInterval = time.Duration(integer("offset.flush.interval.ms", DefaultOffsetFlushInterval.Milliseconds(), 1, 1<<40)) * time.Millisecond
	c.ResetToLatest = oneOf("consumer.override.auto.offset.reset", "earliest", "earliest", "latest") == "latest"
	c.MaxPollRecords = int(integer("consumer.override.max.poll.records", DefaultMaxPollRecords, 1, 1<<24))

	c.Store = str("rialto.store", "")
	if c.Store == "" {
		bad("rialto.store: required")
	}
	c.ControllerURL = str("rialto.controller.url", "")
	c.ControllerToken = kafkaconn.Secret(str("rialto.controller.token", ""))
	c.Region = str("rialto.region", "")
	c.Mode = oneOf("rialto.write.mode", ModePut, ModePut, ModeUpdate)
	c.FieldMap = pairs("rialto.fields.mapping", false)
	c.Exclude = list("rialto.fields.exclude")
	c.IgnoreUnknown = oneOf("rialto.fields.unknown", "fail", "fail", "ignore") == "ignore"
	c.ListAdd = pairs("rialto.update.list.add", true)
	c.ListRemove = pairs("rialto.update.list.remove", true)
	c.MapPut = pairs("rialto.update.map.put", true)
	c.MapRemove = pairs("rialto.update.map.remove", true)
	c.Tombstone = oneOf("rialto.tombstone", TombstoneDelete, TombstoneDelete, TombstoneIgnore, TombstoneFail)
	c.TimestampSource = oneOf("rialto.timestamp.source", TimestampRecord, TimestampRecord, TimestampField, TimestampNone)
	c.TimestampField = str("rialto.timestamp.field", "")
	switch {
	case c.TimestampSource == TimestampField && c.TimestampField == "":
		bad("rialto.timestamp.field: required by rialto.timestamp.source=field")
	case c.TimestampSource != TimestampField && c.TimestampField != "":
		bad("rialto.timestamp.field: only with rialto.timestamp.source=field")
	}
	if c.TimestampSource == TimestampField && c.ValueConverter.Kind == ConverterString {
		bad("rialto.timestamp.source=field: the string value converter has no fields")
	}

	tlsOn, tlsSet := boolean("rialto.kafka.tls"), false
	tc := kafkaconn.TLS{
		CAFile: str("rialto.kafka.tls.ca.file", ""), CertFile: str("rialto.kafka.tls.cert.file", ""),
		KeyFile: str("rialto.kafka.tls.key.file", ""), ServerName: str("rialto.kafka.tls.server.name", ""),
		InsecureSkipVerify: boolean("rialto.kafka.tls.insecure.skip.verify"),
	}
	sc := kafkaconn.SASL{
		Mechanism: str("rialto.kafka.sasl.mechanism", ""), User: str("rialto.kafka.sasl.user", ""),
		Password: kafkaconn.Secret(kv["rialto.kafka.sasl.password"]), PasswordFile: str("rialto.kafka.sasl.password.file", ""),
	}
	saslSet := false
	for k := range KafkaKeys {
		if _, ok := kv[k]; ok {
			tlsSet = tlsSet || strings.HasPrefix(k, "rialto.kafka.tls.")
			saslSet = saslSet || strings.HasPrefix(k, "rialto.kafka.sasl.")
		}
	}
	if _, ok := get("rialto.kafka.tls"); ok && !tlsOn && tlsSet {
		bad("rialto.kafka.tls=false: contradicts the rialto.kafka.tls.* keys given")
	}
	if tlsOn || tlsSet {
		c.Kafka.TLS = &tc
	}
	if saslSet {
		c.Kafka.SASL = &sc
	}
	fieldKeys := make(map[string]string, len(KafkaKeys))
	for k, f := range KafkaKeys {
		fieldKeys[f] = k
	}
	errs = append(errs, kafkaconn.Problems(c.Kafka.Validate(), func(f string) string { return fieldKeys[f] })...)

	// Contradictions between the field rules.
	ops := []struct {
		key string
		m   map[string]string
	}{
		{"rialto.update.list.add", c.ListAdd}, {"rialto.update.list.remove", c.ListRemove},
		{"rialto.update.map.put", c.MapPut}, {"rialto.update.map.remove", c.MapRemove},
	}
	if c.Mode == ModePut {
		for _, o := range ops {
			if len(o.m) > 0 {
				bad("%s: collection merges need rialto.write.mode=update", o.key)
			}
		}
	}
	if c.ValueConverter.Kind == ConverterString {
		if c.Mode == ModeUpdate {
			bad("rialto.write.mode=update: the string value converter has no fields to update")
		}
		if len(c.FieldMap) > 0 || len(c.Exclude) > 0 {
			bad("rialto.fields.*: the string value converter has no fields")
		}
	}
	excluded := map[string]bool{}
	for _, f := range c.Exclude {
		excluded[f] = true
	}
	// Every source field has one role; every target field one writer.
	srcRole := map[string]string{}
	for src, dst := range c.FieldMap {
		if excluded[src] {
			bad("rialto.fields.mapping: %q is also in rialto.fields.exclude", src)
		}
		srcRole[src] = "rialto.fields.mapping"
		_ = dst
	}
	targets := map[string]string{}
	for _, o := range ops {
		for src, dst := range o.m {
			if excluded[src] {
				bad("%s: %q is also in rialto.fields.exclude", o.key, src)
			}
			if r, ok := srcRole[src]; ok {
				bad("%s: source field %q is already used by %s", o.key, src, r)
			}
			srcRole[src] = o.key
			targets[dst] += o.key + " "
		}
	}
	for dst, keys := range targets {
		f := strings.Fields(keys)
		list := slices.Contains(f, "rialto.update.list.add") || slices.Contains(f, "rialto.update.list.remove")
		mp := slices.Contains(f, "rialto.update.map.put") || slices.Contains(f, "rialto.update.map.remove")
		if list && mp {
			bad("store field %q: both list and map operations (%s)", dst, strings.Join(f, ", "))
		}
	}
	seen := map[string]string{}
	for src, dst := range c.FieldMap {
		if prev, ok := seen[dst]; ok {
			a, b := min(prev, src), max(prev, src)
			bad("rialto.fields.mapping: %q and %q both map to %q", a, b, dst)
		}
		seen[dst] = src
		if _, ok := targets[dst]; ok {
			bad("store field %q: set by rialto.fields.mapping and merged by %s", dst, strings.TrimSpace(targets[dst]))
		}
	}
	if len(errs) == 0 {
		return c, nil
	}
	sortErrs(errs)
	return nil, &ConfigError{Problems: errs}
}

func sortErrs(errs []error) {
	slices.SortStableFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
}

// ConfigError lists every problem of a config.
type ConfigError struct{ Problems []error }

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid sink config (%d problem", len(e.Problems))
	if len(e.Problems) > 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

func (e *ConfigError) Unwrap() []error { return e.Problems }

// Group is the consumer group: Kafka Connect's "connect-<name>".
func (c *Config) Group() string { return "connect-" + c.Name }
