package sink

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Header names of dead-letter records. The __connect.errors.* names are
// Kafka Connect's (its DeadLetterQueueReporter), so tools written for
// Connect's dead-letter topics read Rialto's too.
const (
	HeaderTopic        = "__connect.errors.topic"
	HeaderPartition    = "__connect.errors.partition"
	HeaderOffset       = "__connect.errors.offset"
	HeaderConnector    = "__connect.errors.connector.name"
	HeaderTask         = "__connect.errors.task.id"
	HeaderStage        = "__connect.errors.stage"
	HeaderClass        = "__connect.errors.class.name"
	HeaderExceptionCls = "__connect.errors.exception.class.name"
	HeaderExceptionMsg = "__connect.errors.exception.message"
	HeaderStacktrace   = "__connect.errors.exception.stacktrace"
)

// DeadLetter is one failed input record on its way to a dead-letter topic.
type DeadLetter struct {
	// Where the input record was.
	Topic     string
	Partition int32
	Offset    int64
	// Key and Value are the bytes written to the dead-letter topic: the
	// input record's (Connect sink), or the failed write rendered as JSON
	// (goka sink, see Sink).
	Key, Value []byte
	// Headers are copied first (the input record's own headers).
	Headers []kgo.RecordHeader
	// Err is why the record failed.
	Err error
	// Stage names the step that failed (Connect's stage names:
	// KEY_CONVERTER, VALUE_CONVERTER, TASK_PUT).
	Stage string
	// Connector and Task fill the connector-name and task-id headers.
	Connector string
	Task      int
}

// DeadLetters sends dead letters somewhere durable. Send must call done
// exactly once, when the letter is durable (nil) or lost (an error); the
// input offset is committed only after a nil done.
type DeadLetters interface {
	Send(ctx context.Context, dl DeadLetter, done func(error))
}

// KafkaDeadLetters produces dead letters to a Kafka topic through cl (which
// the caller owns and closes). With contextHeaders, each record carries the
// __connect.errors.* headers: where the input was, the stage, the error's
// Go type as exception class and its message.
func KafkaDeadLetters(cl *kgo.Client, topic string, contextHeaders bool) DeadLetters {
	return &kafkaDeadLetters{cl: cl, topic: topic, headers: contextHeaders}
}

type kafkaDeadLetters struct {
	cl      *kgo.Client
	topic   string
	headers bool
}

func (k *kafkaDeadLetters) Send(ctx context.Context, dl DeadLetter, done func(error)) {
	r := &kgo.Record{Topic: k.topic, Key: dl.Key, Value: dl.Value}
	r.Headers = append(r.Headers, dl.Headers...)
	if k.headers {
		r.Headers = append(r.Headers, ContextHeaders(dl)...)
	}
	k.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
		if err != nil {
			err = fmt.Errorf("dead-letter topic %s: %w", k.topic, err)
		}
		done(err)
	})
}

// ContextHeaders returns the __connect.errors.* headers of a dead letter.
func ContextHeaders(dl DeadLetter) []kgo.RecordHeader {
	h := func(k, v string) kgo.RecordHeader { return kgo.RecordHeader{Key: k, Value: []byte(v)} }
	out := []kgo.RecordHeader{
		h(HeaderTopic, dl.Topic),
		h(HeaderPartition, strconv.Itoa(int(dl.Partition))),
		h(HeaderOffset, strconv.FormatInt(dl.Offset, 10)),
	}
	if dl.Connector != "" {
		out = append(out, h(HeaderConnector, dl.Connector), h(HeaderTask, strconv.Itoa(dl.Task)))
	}
	if dl.Stage != "" {
		out = append(out, h(HeaderStage, dl.Stage))
	}
	out = append(out, h(HeaderClass, "github.com/rialtodb/rialto/sink"))
	if dl.Err != nil {
		out = append(out,
			h(HeaderExceptionCls, ErrorClass(dl.Err)),
			h(HeaderExceptionMsg, dl.Err.Error()),
			h(HeaderStacktrace, errorChain(dl.Err)),
		)
	}
	return out
}

// ErrorClass names the innermost typed error of err's chain (e.g.
// "*partialupdate.FieldError"), which dead letters carry as the exception
// class; a plain errors.New error is "*errors.errorString".
func ErrorClass(err error) string {
	class := reflect.TypeOf(err).String()
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		switch reflect.TypeOf(e).String() {
		case "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError":
			continue
		}
		class = reflect.TypeOf(e).String()
	}
	return class
}

// errorChain lists the types of err's wrap chain, outermost first: Go has
// no stack trace to offer, the chain says which layers the error crossed.
func errorChain(err error) string {
	s := ""
	for e := err; e != nil; e = errors.Unwrap(e) {
		if s != "" {
			s += " <- "
		}
		s += reflect.TypeOf(e).String()
	}
	return s
}
