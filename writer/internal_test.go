package writer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestBudget(t *testing.T) {
	b := newBudget(100, 3)
	ctx := context.Background()
	if err := b.acquire(ctx, 60, 1); err != nil {
		t.Fatal(err)
	}
	if b.tryAcquire(50, 1) {
		t.Fatal("110 bytes fit in 100")
	}
	if !b.tryAcquire(40, 1) || b.tryAcquire(0, 2) {
		t.Fatal("records bound wrong")
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := b.acquire(short, 10, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire on a full budget: %v", err)
	}
	got := make(chan error)
	go func() { got <- b.acquire(ctx, 90, 1) }()
	time.Sleep(10 * time.Millisecond)
	b.release(60, 1)
	select {
	case err := <-got:
		t.Fatalf("woke with only 60 bytes free: %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	b.release(40, 1)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	b.release(90, 1)
	// Larger than the bound: goes through when nothing else is taken.
	if !b.tryAcquire(1000, 1) {
		t.Fatal("an oversized write never fits")
	}
	b.release(1000, 1)
	if n, r := b.used(); n != 0 || r != 0 {
		t.Fatalf("used %d bytes %d records after releasing everything", n, r)
	}
	b.tryAcquire(100, 3)
	go func() { got <- b.acquire(ctx, 1, 1) }()
	time.Sleep(10 * time.Millisecond)
	b.close()
	if err := <-got; !errors.Is(err, ErrClosed) {
		t.Fatalf("waiter after close: %v", err)
	}
}

// TestBudgetConcurrent: many goroutines taking and giving back never
// exceed the bound and never lose a wake-up.
func TestBudgetConcurrent(t *testing.T) {
	b := newBudget(1000, 50)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				n := int64(1 + (g*31+i)%200)
				if err := b.acquire(context.Background(), n, 1); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				used, recs := b.used()
				mu.Unlock()
				if used > 1000 || recs > 50 {
					t.Errorf("over the bound: %d bytes, %d records", used, recs)
				}
				b.release(n, 1)
			}
		}()
	}
	wg.Wait()
	if n, r := b.used(); n != 0 || r != 0 {
		t.Fatalf("leaked %d bytes %d records", n, r)
	}
}

func TestRetriable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{kerr.NotLeaderForPartition, true},
		{kerr.RequestTimedOut, true},
		{kerr.InvalidRecord, false},
		{kerr.MessageTooLarge, false},
		{kerr.TopicAuthorizationFailed, false},
		{fmt.Errorf("wrapped: %w", kerr.NotEnoughReplicas), true},
		{kgo.ErrRecordTimeout, true},
		{kgo.ErrClientClosed, false},
		{errors.New("other"), false},
	} {
		pe := &ProduceError{Topic: "t", Partition: 1, Err: tc.err}
		if pe.Retriable() != tc.want || IsRetriable(fmt.Errorf("x: %w", pe)) != tc.want {
			t.Errorf("%v: retriable %v, want %v", tc.err, pe.Retriable(), tc.want)
		}
		if !errors.Is(pe, tc.err) {
			t.Errorf("%v: ProduceError does not unwrap", tc.err)
		}
	}
}

func TestFieldOf(t *testing.T) {
	for msg, want := range map[string]string{
		"age: avro: string is unsupported for Avro int":                "age",
		"avro: missing required field age":                             "age",
		`avro: record ex.User is missing required field "age"`:         "age",
		"avro: string is unsupported for avro record":                  "",
		"Inner.Name: avro: int is unsupported for Avro string, really": "Inner.Name",
	} {
		if got := fieldOf(errors.New(msg)); got != want {
			t.Errorf("fieldOf(%q) = %q, want %q", msg, got, want)
		}
	}
}
